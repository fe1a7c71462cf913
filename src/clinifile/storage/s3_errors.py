"""The S3 store's vendor errors as clinifile.errors (storage/base.py says which)."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, EndpointConnectionError

from clinifile.errors import ObjectNotFound, PreconditionFailed, StorageError, StorageUnavailable

_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}
_PRECONDITION = {"412", "PreconditionFailed"}
_NO_UPLOAD = {"NoSuchUpload"}


def status_of(error: Exception) -> int:
    if isinstance(error, ClientError):
        return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
    return 0


def answered(status: int, code: str, key: str) -> Exception:
    """The error for the store's answer of this HTTP status and S3 error code."""
    if code in _NOT_FOUND or code in _NO_UPLOAD:
        return ObjectNotFound(f"object {key!r} does not exist")
    if code in _PRECONDITION:
        return PreconditionFailed(f"object {key!r} changed since it was checked")
    if status >= 500:
        return StorageUnavailable(f"object store answered {status} {code} for {key!r}")
    return StorageError(f"object store refused {key!r}: {code}")


def translate(error: Exception, key: str) -> Exception:
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        return answered(status_of(error), code, key)
    if isinstance(error, EndpointConnectionError | ConnectionError | BotoCoreError):
        return StorageUnavailable(f"object store unreachable: {type(error).__name__}")
    return error
