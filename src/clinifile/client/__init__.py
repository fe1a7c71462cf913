"""The Python client of clinifile (and of Cliniko's patient-attachments API).

from clinifile.client import Client
with Client(api_key, base_url="http://127.0.0.1:8000") as client:
    record = client.upload(patient_id, "referral.pdf", wait=True)
"""

from clinifile.client._async import AsyncClient
from clinifile.client._rules import RetryPolicy, base_url_for_key, q_filter
from clinifile.client._sync import Client
from clinifile.client.errors import (
    AuthenticationFailed,
    ClinifileError,
    ConnectionFailed,
    InvalidUpload,
    NotFound,
    ProcessingFailed,
    ProcessingTimeout,
    Quarantined,
    QuotaExceeded,
    RateLimited,
    ServerError,
    UploadCancelled,
    ValidationFailed,
)
from clinifile.redaction import protect_library_loggers

__all__ = [
    "AsyncClient",
    "AuthenticationFailed",
    "Client",
    "ClinifileError",
    "ConnectionFailed",
    "InvalidUpload",
    "NotFound",
    "ProcessingFailed",
    "ProcessingTimeout",
    "Quarantined",
    "QuotaExceeded",
    "RateLimited",
    "RetryPolicy",
    "ServerError",
    "UploadCancelled",
    "ValidationFailed",
    "base_url_for_key",
    "q_filter",
]

# httpx logs every request URL at INFO; the client follows presigned URLs, whose signatures
# must not reach an application's logs
protect_library_loggers()
