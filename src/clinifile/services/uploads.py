"""Step 1 and the checks of step 3: presigned posts and the upload URLs they lead to.

A temp id is a 128-bit random nonce plus a 128-bit HMAC of (account, patient, nonce) under
the server secret. Nothing is written at presign time, and step 3 can still tell an upload
this server authorised for this patient from anything else.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import unquote

from clinifile import metrics
from clinifile.config import Settings
from clinifile.db.models import Account
from clinifile.db.patients import AccountStorage
from clinifile.domain.storage import remaining_bytes, upload_max_bytes
from clinifile.errors import ValidationFailed
from clinifile.services.object_keys import patient_temp_root, temp_prefix
from clinifile.storage.base import ObjectStore, PresignedPost

MAX_KEY_BYTES = 1024
_NONCE_HEX = 32
_MAC_HEX = 32


class InvalidUploadUrl(ValueError):
    """Why an upload_url was refused (for logs; the API answers one fixed message)."""


def _mac(secret: bytes, account_id: int, patient_id: int, nonce: str) -> str:
    message = f"{account_id}:{patient_id}:{nonce}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:_MAC_HEX]


def issue_temp_id(secret: bytes, account_id: int, patient_id: int) -> str:
    nonce = secrets.token_hex(_NONCE_HEX // 2)
    return nonce + _mac(secret, account_id, patient_id, nonce)


def temp_id_is_valid(secret: bytes, account_id: int, patient_id: int, temp_id: str) -> bool:
    if len(temp_id) != _NONCE_HEX + _MAC_HEX or not all(c in "0123456789abcdef" for c in temp_id):
        return False
    nonce, mac = temp_id[:_NONCE_HEX], temp_id[_NONCE_HEX:]
    return hmac.compare_digest(mac, _mac(secret, account_id, patient_id, nonce))


def storage_limit_error(account: Account | AccountStorage) -> ValidationFailed:
    limit = account.storage_limit_bytes or 0
    return ValidationFailed(
        {
            "base": f"storage limit reached: this account may store {limit} bytes and has "
            f"{account.storage_used_bytes} in use (archived files count too); upgrade the "
            "plan to store more"
        }
    )


def presign(
    settings: Settings, store: ObjectStore, secret: bytes, account: AccountStorage, patient_id: int
) -> PresignedPost:
    """A presigned post for one patient, limited by file size and remaining storage."""
    remaining = remaining_bytes(account.storage_limit_bytes, account.storage_used_bytes)
    if remaining is not None and remaining < 1:
        raise storage_limit_error(account)
    max_bytes = upload_max_bytes(settings.max_file_size_bytes, remaining)
    temp_id = issue_temp_id(secret, account.id, patient_id)
    post = store.presign_post(
        temp_prefix(account.id, patient_id, temp_id), max_bytes, settings.presign_expires_seconds
    )
    metrics.PRESIGNS.inc()
    return post


def _unquoted(text: str) -> str | None:
    """text percent-decoded once, or None when what it encodes is not UTF-8 (then it was not
    percent-encoded: a file may be named "%80.pdf")."""
    try:
        return unquote(text, errors="strict")
    except UnicodeDecodeError:
        return None


def _key_candidates(upload_url: str, bucket_url: str) -> list[str]:
    """The key as sent, and the key percent-decoded once (the key part, or the whole URL);
    never decoded twice."""
    if upload_url.startswith(bucket_url):
        raw = upload_url[len(bucket_url) :]
        decoded = _unquoted(raw)
        return [raw] if decoded is None or decoded == raw else [raw, decoded]
    decoded_url = _unquoted(upload_url)
    if decoded_url is not None and decoded_url.startswith(bucket_url):
        return [decoded_url[len(bucket_url) :]]
    raise InvalidUploadUrl(f"does not start with this account's bucket URL {bucket_url}")


def _check_key(key: str, secret: bytes, account_id: int, patient_id: int) -> str:
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise InvalidUploadUrl("key longer than 1024 bytes")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in key):
        raise InvalidUploadUrl("key has control characters")
    root = patient_temp_root(account_id, patient_id)
    if not key.startswith(root):
        raise InvalidUploadUrl("key is outside this patient's temp prefix")
    rest = key[len(root) :]
    temp_id, sep, filename = rest.partition("/")
    if not sep or not filename or "/" in filename or filename in {".", ".."}:
        raise InvalidUploadUrl("key is not <temp id>/<file name>")
    if not temp_id_is_valid(secret, account_id, patient_id, temp_id):
        raise InvalidUploadUrl("temp id was not issued for this patient")
    return key


def upload_key(
    upload_url: str, bucket_url: str, secret: bytes, account_id: int, patient_id: int
) -> list[str]:
    """The object keys upload_url may name (raw, or percent-decoded once), each checked to
    be in this account's bucket, under this patient's temp prefix, with a temp id issued for
    this patient. The caller takes the first that exists. InvalidUploadUrl if none fits."""
    reasons: list[str] = []
    keys: list[str] = []
    for candidate in _key_candidates(upload_url, bucket_url):
        try:
            keys.append(_check_key(candidate, secret, account_id, patient_id))
        except InvalidUploadUrl as error:
            reasons.append(str(error))
    if not keys:
        raise InvalidUploadUrl("; ".join(reasons))
    return keys
