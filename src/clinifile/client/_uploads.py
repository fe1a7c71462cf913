"""The upload's wire details, shared by both clients: what a presigned post lets the store
take, the multipart form the file goes in, what the store's answer means, and the body that
registers the upload.

The POST policy's content-length-range is the smaller of the server's file size limit and
the storage the account's plan has left; clinifile also names the file size limit alone
(`max_file_size` in the presigned post), so a refusal can say which limit it is. The staff
page (web/static/app.js, `tooLargeMessage`) words both refusals the same way.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import IO, Any, Protocol

import httpx

from clinifile.client.errors import (
    ClinifileError,
    QuotaExceeded,
    ServerError,
    UploadCancelled,
    ValidationFailed,
)

_UNITS = ("bytes", "KB", "MB", "GB", "TB")


def format_size(size: int) -> str:
    """Sizes as the page writes them (formatSize in app.js): 950 bytes, 2.5 KB, 95 MB."""
    value, unit = float(size), 0
    while value >= 1024 and unit < len(_UNITS) - 1:
        value /= 1024
        unit += 1
    if unit == 0:
        return "1 byte" if size == 1 else f"{size} bytes"
    # JavaScript's toFixed rounds the float's exact value half up
    places = Decimal("0.1") if value < 10 else Decimal("1")
    return f"{Decimal(value).quantize(places, ROUND_HALF_UP)} {_UNITS[unit]}"


@dataclass(frozen=True)
class UploadLimits:
    """The largest file a presigned post lets the store take (its policy's
    content-length-range), and the server's file size limit (None from Cliniko)."""

    allowed: int | None
    max_file_size: int | None

    @classmethod
    def of(cls, post: Mapping[str, Any]) -> UploadLimits:
        max_file_size = post.get("max_file_size")
        return cls(_policy_maximum(post), int(max_file_size) if max_file_size else None)

    def refusal(self, name: str, size: int) -> ValidationFailed | None:
        """The error the store's refusal of this file means, in the page's words; None
        when the file fits. Over the file size limit: ValidationFailed; over the storage
        the plan has left: QuotaExceeded."""
        file_limit = self.max_file_size if self.max_file_size is not None else self.allowed
        if file_limit is not None and size > file_limit:
            message = (
                f"{name} is {format_size(size)}; one file may be at most {format_size(file_limit)}"
            )
            return ValidationFailed(message, {"file": message})
        if self.allowed is not None and size > self.allowed:
            message = (
                f"{name} is {format_size(size)}, more than the {format_size(self.allowed)} "
                "this account may still store (the storage limit of its plan)"
            )
            return QuotaExceeded(message, {"base": message})
        return None

    def check(self, name: str, size: int) -> None:
        """Raises the refusal before a byte is sent, when the store would refuse the file."""
        if (error := self.refusal(name, size)) is not None:
            raise error

    def check_storage(self, name: str, size: int) -> None:
        """For a file sent in parts (the POST's file size limit does not apply): raises
        QuotaExceeded, in the same words, when the storage the plan has left is what binds
        the post and the file is larger."""
        binds = self.max_file_size is None or (
            self.allowed is not None and self.allowed < self.max_file_size
        )
        error = self.refusal(name, size) if binds else None
        if isinstance(error, QuotaExceeded):
            raise error


def check_not_empty(name: str, size: int) -> None:
    """An empty file is refused before anything is asked or sent (the store takes a file of
    1 byte at least), in the page's words."""
    if size == 0:
        message = f"{name} is empty (0 bytes): there is nothing to upload"
        raise ValidationFailed(message, {"file": message})


def _policy_maximum(post: Mapping[str, Any]) -> int | None:
    """The maximum of the base64 POST policy's content-length-range, if it has one."""
    try:
        policy = json.loads(base64.b64decode(post["fields"]["policy"]))
        ranges = [c for c in policy["conditions"] if isinstance(c, list) and len(c) == 3]
        return next(int(c[2]) for c in ranges if c[0] == "content-length-range")
    except (KeyError, TypeError, ValueError, StopIteration):
        return None


class Form:
    """A multipart/form-data body for the store: every field of the presigned post, then
    the file last; its Content-Length is known up front (S3 takes no chunked POST)."""

    def __init__(self, fields: Mapping[str, str], name: str, size: int) -> None:
        boundary = os.urandom(16).hex()
        quoted = name.replace("\\", "\\\\").replace('"', "%22").replace("\r", "").replace("\n", "")
        fields_part = "".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
            for k, v in fields.items()
        )
        file_part = (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{quoted}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        )
        self.head = (fields_part + file_part).encode()
        self.tail = f"\r\n--{boundary}--\r\n".encode()
        self.size = size
        self.headers = {
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Content-Length": str(len(self.head) + size + len(self.tail)),
        }


def s3_outcome(response: httpx.Response, limits: UploadLimits, name: str, size: int) -> str:
    """ "ok", "expired" (ask for a fresh presigned post), or raises for other refusals."""
    if response.status_code in (200, 201, 204):
        return "ok"
    text = response.text
    if response.status_code == 403 and "expired" in text.lower():
        return "expired"
    if "EntityTooLarge" in text:  # only a policy this client could not read
        raise _entity_too_large(name, size, limits)
    if response.status_code >= 500:
        raise ServerError(f"object store error {response.status_code}", status=response.status_code)
    raise ClinifileError(
        f"the object store refused the upload ({response.status_code}): {text[:200]}",
        status=response.status_code,
    )


def _entity_too_large(name: str, size: int, limits: UploadLimits) -> ClinifileError:
    """What EntityTooLarge means for this file: the page's words where the limits say."""
    return limits.refusal(name, size) or QuotaExceeded(
        f"the object store refused {name} ({format_size(size)}) as too large for this "
        "account's remaining storage or the size limit",
        {"base": "too large"},
    )


class Cancel(Protocol):
    """What `cancel=` takes: a threading.Event, an asyncio.Event, anything with is_set()."""

    def is_set(self) -> bool: ...


def cancellable(
    progress: Callable[[int], None] | None, cancel: Cancel | None
) -> Callable[[int], None]:
    """A progress callback that stops the upload (UploadCancelled) once cancel is set."""

    def report(count: int) -> None:
        if cancel is not None and cancel.is_set():
            raise UploadCancelled("the upload was cancelled; it was not registered")
        if progress is not None:
            progress(count)

    return report


def name_of(file: IO[bytes]) -> str:
    """The file name the upload is stored under, from an open file ("upload" if none)."""
    return Path(str(getattr(file, "name", "") or "upload")).name


def upload_url(post: Mapping[str, Any], name: str) -> str:
    """Step 3's upload_url: the presigned post's URL plus the key the store gave the file."""
    return str(post["url"]) + str(post["fields"]["key"]).replace("${filename}", name)


def register_body(patient_id: int | str, url: str, description: str | None) -> dict[str, str]:
    body = {"patient_id": str(patient_id), "upload_url": url}
    if description is not None:
        body["description"] = description
    return body


def created_since_now() -> dict[str, Any]:
    """A filter for records created from (a little before) now: finds a registration whose
    answer was lost, when a retried create is refused as already used."""
    since = datetime.now(UTC) - timedelta(seconds=2)
    return {"created_at": ">=" + since.strftime("%Y-%m-%dT%H:%M:%SZ")}
