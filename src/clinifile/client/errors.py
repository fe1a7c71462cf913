"""Errors of the client; each message says what happened and what to do."""

from __future__ import annotations

from typing import Any


class ClinifileError(Exception):
    """Anything the client could not do."""

    def __init__(self, message: str, *, status: int | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class AuthenticationFailed(ClinifileError):
    """401: the key is unknown, revoked, or for another shard."""


class NotFound(ClinifileError):
    """404: no such record in this account."""


class ValidationFailed(ClinifileError):
    """422: the server refused the data; `errors` maps fields to messages. Also a file over
    the server's file size limit, or an empty one, refused before a byte is sent
    (`errors["file"]`)."""

    def __init__(self, message: str, errors: dict[str, str], **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.errors = errors


class InvalidUpload(ValidationFailed):
    """422 temp_attachment_url: the upload is not one this server issued, or already used."""


class QuotaExceeded(ValidationFailed):
    """The account's storage limit: 422 base, or a file larger than the storage its plan
    has left, refused before a byte is sent (`errors["base"]`)."""


class RateLimited(ClinifileError):
    """429: too many requests; retry after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: float, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(ClinifileError):
    """5xx, or the connection failed, after every retry; `retry_after`: the seconds the
    server asked to wait (its Retry-After header, as a 503 gives while the database or the
    file store is down), else None."""

    def __init__(self, message: str, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ConnectionFailed(ServerError):
    """The server (or the object store) cannot be reached: the connection was refused, its
    host name is not known, or it timed out, after every retry that could help."""


class ProcessingTimeout(ClinifileError):
    """The attachment was registered but did not finish processing in time."""


class ProcessingFailed(ClinifileError):
    """The attachment was registered but will never be processed (clinifile's
    processing_state "failed"): `reason` is the server's processing_error, a sentence to act
    on (upload it again, or ask the administrator); `record` is the attachment as shown."""

    def __init__(self, message: str, record: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(message, body=record, **kwargs)
        self.record = record
        self.reason: str | None = record.get("processing_error")


class Quarantined(ProcessingFailed):
    """The file was blocked and is kept aside, not served, until an administrator releases
    or deletes it: infected (`signature` names what the scanner found) or of a type the
    server does not accept (`signature` None)."""

    @property
    def signature(self) -> str | None:
        scan = self.record.get("scan") or {}
        return scan.get("signature") if scan.get("status") == "infected" else None


class UploadCancelled(ClinifileError):
    """The caller's cancel event was set: the upload stopped and was not registered."""
