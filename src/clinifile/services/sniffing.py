"""The real content type of a file, from its first bytes; the name is only a fallback.

Binary formats are recognised by their signatures (the `filetype` library, pure Python and
conservative: it does not call a bare ZIP a Word document). Bytes without a signature that
decode as UTF-8 text are text; the name may refine a text type (text/csv) but never turns
text or unknown bytes into a format that has a signature (a .pdf that is not a PDF).
"""

from __future__ import annotations

import mimetypes

import filetype

OCTET_STREAM = "application/octet-stream"
TEXT_PLAIN = "text/plain"


def _signature_types() -> set[str]:
    return {matcher.mime for matcher in filetype.types}


def _looks_like_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        # a multi-byte character cut at the end of the sample is still text
        if error.start < len(head) - 4:
            return False
    return True


MACH_BINARY = "application/x-mach-binary"
# thin Mach-O images, 32 and 64 bit, either byte order
_MACH_O_MAGICS = {bytes.fromhex(m) for m in ("feedface", "feedfacf", "cefaedfe", "cffaedfe")}


def _is_mach_o(head: bytes) -> bool:
    """Mach-O, which filetype does not know: a thin image's magic, or a universal ("fat")
    binary's CAFEBABE followed by a small architecture count (a Java class file starts with
    CAFEBABE too, followed by its version, 45 or more)."""
    if head[:4] in _MACH_O_MAGICS:
        return True
    return head[:4] == b"\xca\xfe\xba\xbe" and 0 < int.from_bytes(head[4:8], "big") < 20


def detect_content_type(head: bytes, filename: str) -> str:
    """head: the file's first bytes (8 KiB is plenty)."""
    if _is_mach_o(head):
        return MACH_BINARY
    kind = filetype.guess(head)
    if kind is not None:
        return str(kind.mime)
    by_name, _ = mimetypes.guess_type(filename, strict=False)
    if _looks_like_text(head):
        if by_name and (by_name.startswith("text/") or by_name in _TEXTUAL_APPLICATION_TYPES):
            return by_name
        return TEXT_PLAIN
    if by_name and by_name not in _signature_types() and not by_name.startswith("text/"):
        return by_name
    return OCTET_STREAM


_TEXTUAL_APPLICATION_TYPES = {"application/json", "application/xml", "application/rtf"}
