"""Aborts abandoned multipart uploads (issue 17), so no invisible parts pile up in a bucket:
- expired: an upload a client opened and never completed nor aborted, past its expiry plus
  a margin (its part URLs stopped working at its expiry);
- unknown: an upload the store holds under an account's temp prefixes that no open upload
  of the database names (the server failed between starting it and recording it, or an
  abort the store refused earlier), older than the margin (ListMultipartUploads).
"""

from __future__ import annotations

import logging
from datetime import UTC, timedelta

from sqlalchemy import select

from clinifile.db import multipart_uploads as uploads_db
from clinifile.db.models import Account
from clinifile.db.types import utcnow
from clinifile.errors import StorageError
from clinifile.runtime import Runtime
from clinifile.storage.base import MultipartUploadInfo

log = logging.getLogger(__name__)

TEMP_MARK = "/attachments/temp/"


def _abort_expired(runtime: Runtime, margin_seconds: float) -> int:
    before = utcnow() - timedelta(seconds=margin_seconds)
    aborted = 0
    while True:
        with runtime.sessions() as session:
            rows = uploads_db.expired(session, before, runtime.settings.sweep_batch_size)
        if not rows:
            return aborted
        for row in rows:
            with runtime.transaction() as session:
                if not uploads_db.move(session, row.id, row.state, uploads_db.ABORTED):
                    continue  # its client completed or aborted it meanwhile
            try:
                runtime.store(row.region).abort_multipart(row.object_key, row.store_upload_id)
            except StorageError as error:  # the unknown-upload pass tries again later
                log.warning("sweep could not abort multipart upload %s: %s", row.id, error)
            aborted += 1


def _unknown(runtime: Runtime, page: list[MultipartUploadInfo]) -> list[MultipartUploadInfo]:
    temps = [u for u in page if TEMP_MARK in u.key]
    with runtime.sessions() as session:
        known = uploads_db.known_store_ids(session, [u.upload_id for u in temps])
    return [u for u in temps if u.upload_id not in known]


def _abort_unknown(runtime: Runtime, margin_seconds: float) -> int:
    cutoff = utcnow() - timedelta(seconds=margin_seconds)
    aborted = 0
    for region in runtime.settings.regions:
        store = runtime.store(region.name)
        with runtime.sessions() as session:
            accounts = list(
                session.scalars(select(Account.id).where(Account.region == region.name))
            )
        for account_id in accounts:
            for page in store.iter_multipart_uploads(f"{account_id}/patients/"):
                for upload in _unknown(runtime, page):
                    started = upload.initiated
                    if started is None or started.astimezone(UTC) > cutoff:
                        continue
                    try:
                        store.abort_multipart(upload.key, upload.upload_id)
                    except StorageError as error:
                        log.warning("sweep could not abort a multipart upload: %s", error)
                        continue
                    aborted += 1
    return aborted


def sweep_multipart(runtime: Runtime, margin_seconds: float) -> int:
    """One pass: aborts expired and unknown multipart uploads; returns how many."""
    aborted = _abort_expired(runtime, margin_seconds) + _abort_unknown(runtime, margin_seconds)
    if aborted:
        log.info("sweep aborted %d abandoned multipart uploads", aborted)
    return aborted
