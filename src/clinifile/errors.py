"""The exception tree of clinifile.

    ClinifileError
    ├── AuthenticationFailed     no key, unknown, revoked or for another shard
    ├── NotFound                 a record does not exist (or belongs to another account)
    ├── ValidationFailed         request data is wrong; carries {field: message}
    ├── RateLimited              too many requests for one API key
    ├── ProcessingNotComplete    content asked for before the worker finished
    ├── UploadEnded              a multipart upload was completed, aborted or expired
    ├── OverQuota                an upload grew past its account's storage limit (worker)
    ├── LeaseLost                a worker no longer holds the job it was running
    ├── StorageError             the object store failed
    │   ├── ObjectNotFound       the key does not exist
    │   │   └── UploadMissing    a registered upload is not in the store (worker.promotion)
    │   ├── PreconditionFailed   a conditional copy found a different object
    │   ├── StorageUnavailable   the store cannot be reached or answered 5xx
    │   └── CopyMismatch         a permanent copy does not hash as its upload (worker.promotion)
    ├── ScanError                the virus scanner gave no verdict (retried, never skipped)
    │   ├── ScannerUnavailable   clamd cannot be reached, hung up, or timed out
    │   └── ScanLimitExceeded    the file is past clamd's stream or scan size limits
    ├── Rejected                 a file is not served: quarantined (worker.judging)
    │   ├── Infected             the scanner found a signature (worker.judging)
    │   └── BlockedType          its detected type is blocked (worker.judging)
    ├── ClamdNotFound            no clamd binary or signatures for serve's own (scanning.runner)
    ├── UnsafeWebhookUrl         a webhook URL is not http(s) or reaches a non-public address
    └── WebhookVerificationError a webhook's headers or signature do not verify (clinifile.webhooks)

Routes map these to HTTP; storage backends map vendor errors to these. Outside that tree,
each caught where it is raised:

    ValueError
    ├── InvalidUploadUrl         why an upload_url was refused, for logs (services.uploads)
    └── BadQuery                 a q[] filter or sort that cannot run (api.query_language)
    Exception
    ├── BadRequest               a 400 with its message (api.errors)
    ├── BodyTooLarge             a request body past its cap (api.middleware)
    ├── NoPreview                why a file gets no preview (previews.render, in its child)
    └── _StopRequested           SIGTERM while serve starts its parts (cli.serve)
    RuntimeError
    └── WeedNotFound             no SeaweedFS binary to run (storage.seaweed)

The Python client's own tree (clinifile.client.errors) reuses some names:

    ClinifileError
    ├── AuthenticationFailed     401: no, unknown or revoked key
    ├── NotFound                 404
    ├── ValidationFailed         422, with the server's errors
    │   ├── InvalidUpload        the upload_url or the uploaded object was refused
    │   └── QuotaExceeded        the account's storage limit
    ├── RateLimited              429, after waiting out Retry-After as often as allowed
    ├── ServerError              5xx, or the connection failed, after every retry
    │   └── ConnectionFailed     the server cannot be reached: refused, unknown host, timed out
    ├── ProcessingTimeout        wait=True gave up before processing completed
    ├── ProcessingFailed         a registered file will never be served (wait=True)
    │   └── Quarantined          it was blocked: infected, or a type the server refuses
    └── UploadCancelled          the caller's cancel event was set
"""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


class ClinifileError(Exception):
    pass


class AuthenticationFailed(ClinifileError):
    pass


class NotFound(ClinifileError):
    def __init__(self, what: str = "record") -> None:
        super().__init__(f"{what} not found")
        self.what = what


class ValidationFailed(ClinifileError):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("Validation Failed: " + "; ".join(f"{k} {v}" for k, v in errors.items()))
        self.errors = errors


class RateLimited(ClinifileError):
    def __init__(self, limit: int, reset_at: int, retry_after: int) -> None:
        super().__init__(
            f"Too many requests: this API key may make {limit} requests a minute; "
            f"retry after {retry_after} second{'' if retry_after == 1 else 's'}"
        )
        self.reset_at = reset_at
        self.retry_after = retry_after


class ProcessingNotComplete(ClinifileError):
    pass


class UploadEnded(ClinifileError):
    """A multipart upload asked for after it was completed, aborted or expired (409)."""


class OverQuota(ClinifileError):
    pass


class LeaseLost(ClinifileError):
    """Another run holds the job now (the lease ran out, or it was handed back): the step
    changed nothing, and the job ends quietly. Not a LookupError, so a bug's KeyError is
    never taken for one."""


class StorageError(ClinifileError):
    pass


class ObjectNotFound(StorageError):
    pass


class PreconditionFailed(StorageError):
    pass


class StorageUnavailable(StorageError):
    pass


class ScanError(ClinifileError):
    pass


class ScannerUnavailable(ScanError):
    pass


class ScanLimitExceeded(ScanError):
    pass


class UnsafeWebhookUrl(ClinifileError):
    """The message names the URL's problem and, for an address, its kind and the setting
    that allows private ones."""


class WebhookVerificationError(ClinifileError):
    """A delivery that cannot be trusted: a header missing, a time outside the tolerance,
    or no signature made with the endpoint's secret."""


def found(record: T | None, what: str) -> T:
    """The record a lookup returned, or NotFound(what) when it returned none."""
    if record is None:
        raise NotFound(what)
    return record
