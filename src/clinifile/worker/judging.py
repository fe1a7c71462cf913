"""Whether a file that was read (and scanned) may be served: the verdicts that quarantine it.

Each verdict is an error the job's rule table answers with QuarantineOn (worker.processing):
its reason is the sentence a clinic reads as processing_error.
"""

from __future__ import annotations

from clinifile.errors import ClinifileError
from clinifile.worker.promotion import Source

# what a clinic sees as the kind of file, for the blocked types of the default list
TYPE_NAMES = {
    "application/x-msdownload": "a Windows program",
    "application/x-executable": "a Linux (ELF) program",
    "application/x-mach-binary": "a macOS (Mach-O) program",
}


def finding(signature: str | None, content_type: str | None) -> str:
    """What made a file quarantined, as a clinic reads it: its signature, else its type."""
    if signature is not None:
        return f"the virus scanner found {signature} in this file"
    kind = TYPE_NAMES.get(content_type or "", "of a blocked type")
    return f"this file is {kind} ({content_type}), which this server does not accept"


def quarantined_reason(found: str) -> str:
    return (
        f"{found[:1].upper()}{found[1:]}; it is kept aside and not served until an "
        "administrator releases or deletes it."
    )


def deleted_reason(found: str) -> str:
    return f"{found[:1].upper()}{found[1:]}; an administrator deleted it."


class Rejected(ClinifileError):
    """The file is not served; it goes to quarantine, its bytes still counted."""

    def __init__(self, source: Source, found: str) -> None:
        self.source = source
        self.reason = quarantined_reason(found)
        super().__init__(self.reason)


class Infected(Rejected):
    def __init__(self, source: Source, signature: str) -> None:
        super().__init__(source, finding(signature, source.content_type))
        self.signature = signature


class BlockedType(Rejected):
    def __init__(self, source: Source, content_type: str) -> None:
        super().__init__(source, finding(None, content_type))
        self.content_type = content_type


def judge(source: Source, blocked_content_types: list[str]) -> None:
    """Returns when the file may be served; Infected when its scan found a signature,
    BlockedType when its detected type is blocked (an infected file is named as such even
    when its type is blocked too)."""
    if source.scan is not None and source.scan.signature is not None:
        raise Infected(source, source.scan.signature)
    if source.content_type in blocked_content_types:
        raise BlockedType(source, source.content_type)
