"""Resumable multipart uploads (issue 17), a documented extension beside the presigned POST.

The client opens an upload for a patient, PUTs its parts straight to the store with URLs
signed here, and asks for it to be completed; what it gets back is an upload_url in the
patient's temp prefix, exactly as a presigned POST's, and registration is unchanged. The
store's own upload id never leaves the server. The store cannot limit a part's size, so the
parts it holds are checked against the declared size before they are joined.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import timedelta

from clinifile.db import multipart_uploads as uploads_db
from clinifile.db.multipart_uploads import MultipartUpload
from clinifile.db.types import utcnow
from clinifile.domain.storage import remaining_bytes
from clinifile.errors import (
    NotFound,
    StorageError,
    StorageUnavailable,
    UploadEnded,
    ValidationFailed,
    found,
)
from clinifile.runtime import Runtime
from clinifile.services import uploads
from clinifile.services.api_keys import Principal
from clinifile.services.filenames import safe_filename
from clinifile.services.object_keys import temp_prefix
from clinifile.services.patients import active_patients_account
from clinifile.storage.base import ObjectStore, UploadedPart

log = logging.getLogger(__name__)

MiB = 1024 * 1024
MIN_PART_SIZE = 5 * MiB  # S3's smallest part but the last
MAX_PARTS = 10_000  # S3's most parts of one upload
MAX_URLS = 100  # part URLs signed in one request


def part_size_for(size: int) -> int:
    """The part size the server chooses: 5 MiB, or more so that no upload needs more than
    10,000 parts (what @uppy/aws-s3 chooses by default too)."""
    return max(MIN_PART_SIZE, math.ceil(size / MAX_PARTS))


def part_count(size: int, part_size: int) -> int:
    return max(1, math.ceil(size / part_size))


def expected_part_size(upload: MultipartUpload, number: int) -> int:
    return min(upload.part_size, upload.size - (number - 1) * upload.part_size)


@dataclass(frozen=True)
class Completed:
    key: str
    upload_url: str
    size: int
    etag: str


def _store(runtime: Runtime, upload: MultipartUpload) -> ObjectStore:
    return runtime.store(upload.region)


def create(
    runtime: Runtime,
    principal: Principal,
    patient_id: int,
    *,
    filename: str,
    size: int,
    content_type: str | None,
) -> MultipartUpload:
    """Opens a multipart upload for an active patient (NotFound otherwise); a size over the
    multipart maximum or the account's remaining storage is a ValidationFailed."""
    account = active_patients_account(runtime, principal.account_id, patient_id)
    if account is None:
        raise NotFound("patient")
    settings = runtime.settings
    if size > settings.max_multipart_file_size_bytes:
        limit = settings.max_multipart_file_size_bytes
        raise ValidationFailed({"size": f"must be at most {limit} bytes (the largest file)"})
    remaining = remaining_bytes(account.storage_limit_bytes, account.storage_used_bytes)
    if remaining is not None and size > remaining:
        raise uploads.storage_limit_error(account)
    temp_id = uploads.issue_temp_id(runtime.secret, account.id, patient_id)
    key = temp_prefix(account.id, patient_id, temp_id) + safe_filename(filename)
    store = runtime.store(account.region)
    store_upload_id = store.create_multipart(key, content_type=content_type)
    now = utcnow()
    with runtime.transaction() as session:
        upload = uploads_db.add(
            session,
            MultipartUpload(
                account_id=account.id,
                patient_id=patient_id,
                region=account.region,
                object_key=key,
                store_upload_id=store_upload_id,
                size=size,
                part_size=part_size_for(size),
                content_type=content_type,
                state=uploads_db.OPEN,
                created_at=now,
                expires_at=now + timedelta(seconds=settings.multipart_expires_seconds),
            ),
        )
    log.info("multipart upload %s opened: %d bytes", upload.id, size)
    return upload


def _open_upload(runtime: Runtime, principal: Principal, upload_id: int) -> MultipartUpload:
    with runtime.sessions() as session:
        upload = found(uploads_db.get(session, principal.account_id, upload_id), "upload")
    if upload.state != uploads_db.OPEN:
        raise UploadEnded(f"this multipart upload is {upload.state}")
    if upload.expires_at <= utcnow():
        raise UploadEnded(f"this multipart upload expired at {upload.expires_at.isoformat()}")
    return upload


def part_urls(
    runtime: Runtime, principal: Principal, upload_id: int, numbers: list[int]
) -> tuple[dict[int, str], int]:
    """Presigned PUTs for these parts, and for how many seconds they hold."""
    upload = _open_upload(runtime, principal, upload_id)
    parts = part_count(upload.size, upload.part_size)
    outside = [n for n in numbers if n > parts]
    if outside:
        raise ValidationFailed({"numbers": f"this upload has parts 1 to {parts}"})
    left = int((upload.expires_at - utcnow()).total_seconds())
    expires_in = max(1, min(runtime.settings.presign_expires_seconds, left))
    store = _store(runtime, upload)
    urls = {
        n: store.presign_upload_part(
            upload.object_key, upload.store_upload_id, n, expires_in=expires_in
        )
        for n in numbers
    }
    return urls, expires_in


def status(
    runtime: Runtime, principal: Principal, upload_id: int
) -> tuple[MultipartUpload, list[UploadedPart]]:
    """The upload and the parts the store holds for it: what a client needs to resume."""
    upload = _open_upload(runtime, principal, upload_id)
    return upload, _store(runtime, upload).list_parts(upload.object_key, upload.store_upload_id)


def abort(runtime: Runtime, principal: Principal, upload_id: int) -> None:
    upload = _open_upload(runtime, principal, upload_id)
    with runtime.transaction() as session:
        if not uploads_db.move(session, upload.id, uploads_db.OPEN, uploads_db.ABORTED):
            raise UploadEnded("this multipart upload is no longer open")
    _store(runtime, upload).abort_multipart(upload.object_key, upload.store_upload_id)
    log.info("multipart upload %s aborted by its client", upload.id)


def _asked_parts(upload: MultipartUpload, parts: list[tuple[int, str]]) -> dict[int, str]:
    count = part_count(upload.size, upload.part_size)
    asked = dict(parts)
    if len(asked) != len(parts):
        raise ValidationFailed({"parts": "name each part once"})
    if sorted(asked) != list(range(1, count + 1)):
        missing = sorted(set(range(1, count + 1)) - set(asked))
        detail = f"; missing {', '.join(map(str, missing[:10]))}" if missing else ""
        raise ValidationFailed(
            {"parts": f"must be parts 1 to {count} of {upload.part_size} bytes{detail}"}
        )
    return asked


def _wrong_parts(
    upload: MultipartUpload, asked: dict[int, str], held: dict[int, UploadedPart]
) -> tuple[str, str] | None:
    """Why these parts cannot be joined: ("parts", …) the client can mend by sending a part
    again; ("size", …) when the parts held are not the size declared (the upload is over)."""
    for number, etag in asked.items():
        part = held.get(number)
        if part is None:
            return "parts", f"part {number} is not in the store: send it, then complete"
        if part.etag != etag.strip('"'):
            return "parts", f"part {number}'s ETag is not the one the store holds"
    for number in asked:
        if held[number].size != expected_part_size(upload, number):
            return "size", (
                f"part {number} is {held[number].size} bytes, not "
                f"{expected_part_size(upload, number)}: the parts must add up to the "
                f"declared {upload.size} bytes; the upload is aborted"
            )
    return None


def complete(
    runtime: Runtime, principal: Principal, upload_id: int, parts: list[tuple[int, str]]
) -> Completed:
    """Joins the parts into the object in the patient's temp prefix, after checking them
    against the declared size and the account's remaining storage."""
    upload = _open_upload(runtime, principal, upload_id)
    asked = _asked_parts(upload, parts)
    account = active_patients_account(runtime, upload.account_id, upload.patient_id)
    if account is None:
        raise NotFound("patient")
    with runtime.transaction() as session:
        if not uploads_db.move(session, upload.id, uploads_db.OPEN, uploads_db.COMPLETING):
            raise UploadEnded("this multipart upload is no longer open")
    store = _store(runtime, upload)
    try:
        held = {p.number: p for p in store.list_parts(upload.object_key, upload.store_upload_id)}
        wrong = _wrong_parts(upload, asked, held)
        remaining = remaining_bytes(account.storage_limit_bytes, account.storage_used_bytes)
        if wrong is None and remaining is not None and upload.size > remaining:
            _end(runtime, store, upload, uploads_db.ABORTED)
            raise uploads.storage_limit_error(account)
        if wrong is not None:
            field, text = wrong
            _end(runtime, store, upload, uploads_db.ABORTED if field == "size" else uploads_db.OPEN)
            raise ValidationFailed({field: text})
        etag = store.complete_multipart(
            upload.object_key, upload.store_upload_id, sorted(asked.items())
        )
    except ValidationFailed:
        raise
    except StorageUnavailable:
        _end(runtime, store, upload, uploads_db.OPEN)
        raise
    except StorageError as error:
        _end(runtime, store, upload, uploads_db.OPEN)
        log.warning("multipart upload %s: the store refused to join it: %s", upload.id, error)
        raise ValidationFailed({"parts": "the store refused to join these parts"}) from error
    except Exception:
        _end(runtime, store, upload, uploads_db.OPEN)
        raise
    with runtime.transaction() as session:
        uploads_db.move(session, upload.id, uploads_db.COMPLETING, uploads_db.COMPLETED, etag=etag)
    log.info("multipart upload %s completed: %d bytes", upload.id, upload.size)
    key = upload.object_key
    return Completed(key=key, upload_url=store.bucket_url + key, size=upload.size, etag=etag)


def _end(runtime: Runtime, store: ObjectStore, upload: MultipartUpload, state: str) -> None:
    """A completion that failed: back to open (the client may mend it), or aborted."""
    with runtime.transaction() as session:
        uploads_db.move(session, upload.id, uploads_db.COMPLETING, state)
    if state == uploads_db.ABORTED:
        store.abort_multipart(upload.object_key, upload.store_upload_id)
        log.info("multipart upload %s aborted: its parts were refused", upload.id)
