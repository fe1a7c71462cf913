"""Processing one leased attachment: the job, and its retry rules per error class."""

from __future__ import annotations

import logging
import random

from sqlalchemy.orm import Session

from clinifile.db import accounts as accounts_db
from clinifile.db import attachments as attachments_db
from clinifile.db.models import Attachment
from clinifile.db.types import utcnow
from clinifile.domain.states import AttachmentState
from clinifile.errors import StorageError
from clinifile.runtime import Runtime
from clinifile.services.filenames import safe_filename
from clinifile.services.object_keys import permanent_key
from clinifile.worker.promotion import UploadMissing, inspect, promote

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 300.0


class OverQuota(Exception):
    pass


def backoff_seconds(runtime: Runtime, attempts: int) -> float:
    base = runtime.settings.worker_backoff_base_seconds * 2 ** max(0, attempts - 1)
    return min(MAX_BACKOFF_SECONDS, base) * random.uniform(0.5, 1.0)


def _leased(runtime: Runtime, attachment_id: int, owner: str) -> Attachment | None:
    with runtime.sessions() as session:
        return _leased_in(session, attachment_id, owner)


def _settle_reservation(runtime: Runtime, job: Attachment, owner: str, size: int) -> None:
    """Makes the bytes counted for this attachment equal its real size (the object may have
    been replaced after it was registered); OverQuota if the larger size does not fit."""
    delta = size - job.reserved_bytes
    if delta == 0:
        return
    with runtime.transaction() as session:
        if delta > 0 and not accounts_db.reserve(session, job.account_id, delta):
            raise OverQuota(f"file is {size} bytes, over the account's storage limit")
        if delta < 0:
            accounts_db.release(session, job.account_id, -delta)
        leased = _leased_in(session, job.id, owner)
        if not leased:
            raise LookupError("lease lost")
        leased.reserved_bytes = size
    job.reserved_bytes = size


def _leased_in(session: Session, attachment_id: int, owner: str) -> Attachment | None:
    """The attachment if owner still holds its lease, else None."""
    attachment = session.get(Attachment, attachment_id)
    if attachment is None or attachment.state != AttachmentState.PROCESSING:
        return None
    return attachment if attachment.lease_owner == owner else None


def process(runtime: Runtime, attachment_id: int, owner: str) -> None:
    """Finishes the leased attachment, or schedules a retry, or fails it for good."""
    job = _leased(runtime, attachment_id, owner)
    if job is None:
        return
    store = runtime.store(job.region)
    filename = safe_filename(job.temp_key.rsplit("/", 1)[-1])
    final_key = permanent_key(job.account_id, job.patient_id, job.id, filename)
    try:
        source = inspect(store, job.temp_key, final_key, filename, runtime.settings.sniff_bytes)
        _settle_reservation(runtime, job, owner, source.info.size)
        stored = promote(store, source, final_key, filename)
    except OverQuota as error:
        store.delete(job.temp_key)
        _fail(runtime, job, owner, str(error))
        return
    except UploadMissing as error:
        _retry_or_fail(
            runtime, job, owner, str(error), runtime.settings.worker_missing_object_attempts
        )
        return
    except (StorageError, LookupError) as error:
        _retry_or_fail(runtime, job, owner, str(error), runtime.settings.worker_max_attempts)
        return
    with runtime.transaction() as session:
        won = attachments_db.mark_completed(
            session,
            job.id,
            owner,
            filename=filename,
            content_type=source.content_type,
            size=stored.size,
            checksum_sha256=source.sha256,
            permanent_key=final_key,
            processed_at=utcnow(),
        )
    if won:
        log.info("attachment %s processed: %s, %d bytes", job.id, source.content_type, stored.size)
    else:
        log.warning("attachment %s: lease lost before completion; another run finishes it", job.id)


def _retry_or_fail(runtime: Runtime, job: Attachment, owner: str, reason: str, budget: int) -> None:
    if job.attempts >= budget:
        _fail(runtime, job, owner, f"gave up after {job.attempts} attempts: {reason}")
        return
    delay = backoff_seconds(runtime, job.attempts)
    log.warning(
        "attachment %s attempt %d failed (%s); retry in %.1fs", job.id, job.attempts, reason, delay
    )
    with runtime.transaction() as session:
        attachments_db.mark_retry(session, job.id, owner, delay_seconds=delay, reason=reason)


def _fail(runtime: Runtime, job: Attachment, owner: str, reason: str) -> None:
    log.error("attachment %s failed: %s", job.id, reason)
    with runtime.transaction() as session:
        current = _leased_in(session, job.id, owner)
        if current is None:
            return
        released = current.reserved_bytes
        if attachments_db.mark_failed(session, job.id, owner, reason=reason):
            accounts_db.release(session, job.account_id, released)
