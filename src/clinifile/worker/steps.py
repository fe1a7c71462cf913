"""The steps of processing one leased attachment, each a function a test can stop after, as
a crash would:

    claim      lease the next due attachment: its Job (lease: re-read a leased one's; a
               loop claims its next job in the transaction that completes one)
    inspect    find the upload (or an earlier run's copy), detect its type, hash and scan it
    settle     count the bytes found, not the bytes registered
    judge      Infected or BlockedType when the file may not be served
    promote    copy to the permanent key, verify
    complete   record type, size, checksum and scan; the attachment is done

after which the upload is discarded (worker.discarder: deleted, or left for the sweep); or
one of the three ends a rule chooses instead: `retry`, `fail` and `quarantine`. Every step
that writes is one transaction whose UPDATE names the lease it expects, and raises LeaseLost when
another run holds the job; storage steps raise StorageError (see worker.promotion).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.orm import Session

from clinifile.db import attachments as attachments_db
from clinifile.db import completions
from clinifile.db.types import utcnow
from clinifile.domain.states import ScanStatus
from clinifile.errors import LeaseLost, StorageError
from clinifile.runtime import Runtime
from clinifile.services import audit, events
from clinifile.services.events import EventType
from clinifile.services.filenames import safe_filename
from clinifile.services.object_keys import permanent_key, quarantine_key
from clinifile.storage.base import ObjectInfo
from clinifile.worker import judging, promotion
from clinifile.worker.promotion import Scan, Source

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """A leased attachment as the job read it when it began."""

    id: int
    owner: str
    account_id: int
    patient_id: int
    region: str
    temp_key: str
    filename: str
    final_key: str
    # the claim that leased it counted as an attempt
    attempts: int
    # bytes counted against the account for it; settle changes it
    reserved_bytes: int
    # the request that registered it: its processing logs under the same id
    request_id: str | None = None


def lease(runtime: Runtime, attachment_id: int, owner: str) -> Job | None:
    """The job of the attachment leased to owner, or None when owner no longer holds it."""
    with runtime.sessions() as session:
        row = attachments_db.leased(session, attachment_id, owner)
    if row is None:
        log.debug("attachment %s is not leased to %s; nothing to do", attachment_id, owner)
        return None
    return job_from(row, owner)


def claim(runtime: Runtime, owner: str) -> Job | None:
    """Leases the next due attachment to owner: its job, or None when none is due."""
    with runtime.transaction() as session:
        attachments_db.commit_unflushed(session)
        return claim_in(session, runtime, owner)


def claim_in(session: Session, runtime: Runtime, owner: str) -> Job | None:
    """claim, in the caller's transaction."""
    lease_seconds = runtime.settings.worker_lease_seconds
    row = attachments_db.claim_next(session, owner=owner, lease_seconds=lease_seconds)
    return None if row is None else job_from(row, owner)


def hand_back(runtime: Runtime, job: Job) -> None:
    """Returns a claimed job none of whose steps ran (a stopping worker's next job)."""
    with runtime.transaction() as session:
        attachments_db.hand_back(session, job.id, job.owner)


def job_from(row: attachments_db.JobRow, owner: str) -> Job:
    """The Job of a row of attachments_db.JOB_COLUMNS."""
    filename = safe_filename(row.temp_key.rsplit("/", 1)[-1])
    return Job(
        id=row.id,
        owner=owner,
        account_id=row.account_id,
        patient_id=row.patient_id,
        region=row.region,
        temp_key=row.temp_key,
        filename=filename,
        final_key=permanent_key(row.account_id, row.patient_id, row.id, filename),
        attempts=row.attempts,
        reserved_bytes=row.reserved_bytes,
        request_id=row.request_id,
    )


def inspect(runtime: Runtime, job: Job) -> Source:
    """UploadMissing when neither the upload nor an earlier run's copy exists; with
    scanning on, a ScanError when clamd gives no verdict."""
    store = runtime.store(job.region)
    sniff_bytes = runtime.settings.sniff_bytes
    return promotion.inspect(
        store, job.temp_key, job.final_key, job.filename, sniff_bytes, runtime.scanner
    )


def settle(runtime: Runtime, job: Job, source: Source) -> Job:
    """Counts the size found for the attachment (the client may have replaced its upload
    after registering it); OverQuota when a larger size does not fit the account's limit,
    and then nothing is counted."""
    size = source.info.size
    if size == job.reserved_bytes:
        return job
    with runtime.transaction() as session:
        attachments_db.settle_reservation(
            session,
            job.id,
            job.owner,
            account_id=job.account_id,
            expected=job.reserved_bytes,
            size=size,
        )
    return replace(job, reserved_bytes=size)


def judge(runtime: Runtime, source: Source) -> None:
    """Infected or BlockedType (worker.judging) when the file may not be served."""
    judging.judge(source, runtime.settings.blocked_content_types)


def scan_fields(scan: Scan | None) -> dict[str, Any]:
    """An attachment's scan columns for this scan (all None: not scanned)."""
    if scan is None:
        return dict.fromkeys(
            ("scan_status", "scan_signature", "scanned_at", "scan_signature_version")
        )
    return dict(
        scan_status=ScanStatus.INFECTED if scan.signature else ScanStatus.CLEAN,
        scan_signature=scan.signature,
        scanned_at=scan.scanned_at,
        scan_signature_version=scan.version,
    )


def promote(runtime: Runtime, job: Job, source: Source) -> ObjectInfo:
    return promotion.promote(runtime.store(job.region), source, job.final_key, job.filename)


def complete(
    runtime: Runtime, job: Job, source: Source, stored: ObjectInfo, *, then_claim: bool = False
) -> Job | None:
    """Records the attachment as completed; then_claim: and, in the same transaction,
    leases the job's owner its next job (one commit for both), which it returns."""
    following = None
    with runtime.transaction() as session:
        won = completions.mark_completed(
            session,
            job.id,
            job.owner,
            filename=job.filename,
            content_type=source.content_type,
            size=stored.size,
            checksum_sha256=source.sha256,
            permanent_key=job.final_key,
            processed_at=utcnow(),
            **scan_fields(source.scan),
        )
        if won:
            events.emit_for(session, EventType.PROCESSED, job.id, account_id=job.account_id)
            if then_claim:
                following = claim_in(session, runtime, job.owner)
    if not won:
        raise LeaseLost(f"attachment {job.id} is no longer leased to {job.owner!r}")
    log.info("attachment %s processed: %s, %d bytes", job.id, source.content_type, stored.size)
    return following


def retry(runtime: Runtime, job: Job, reason: str, *, delay_seconds: float) -> None:
    """Hands the job back to the queue, due again after delay_seconds."""
    with runtime.transaction() as session:
        won = attachments_db.mark_retry(
            session, job.id, job.owner, delay_seconds=delay_seconds, reason=reason
        )
    if not won:
        raise LeaseLost(f"attachment {job.id} is no longer leased to {job.owner!r}")
    log.warning(
        "attachment %s attempt %d failed (%s); retry in %.1fs",
        job.id,
        job.attempts,
        reason,
        delay_seconds,
    )


def fail(runtime: Runtime, job: Job, reason: str, *, delete_upload: bool = False) -> None:
    """Fails the attachment for good and gives its counted bytes back; then, when
    delete_upload, deletes the upload (if that fails, the sweep removes it later)."""
    with runtime.transaction() as session:
        won = attachments_db.mark_failed(
            session,
            job.id,
            job.owner,
            reason=reason,
            account_id=job.account_id,
            reserved_bytes=job.reserved_bytes,
            filename=job.filename,
        )
        if won:
            events.emit_for(session, EventType.FAILED, job.id)
    if not won:
        raise LeaseLost(f"attachment {job.id} is no longer leased to {job.owner!r}")
    log.error("attachment %s failed: %s", job.id, reason)
    if not delete_upload:
        return
    try:
        runtime.store(job.region).delete(job.temp_key)
    except StorageError as error:
        log.warning("attachment %s: upload not deleted (%s); the sweep will", job.id, error)


def quarantine(runtime: Runtime, job: Job, source: Source, reason: str) -> None:
    """Copies the bytes read to the attachment's quarantine key (verified), then marks it
    quarantined with its scan, its bytes still counted, and the audit event in the same
    transaction; then deletes what it read (if that fails, the sweep removes a left-over
    upload). A crash before the mark leaves the upload for the next run."""
    store = runtime.store(job.region)
    key = quarantine_key(job.account_id, job.patient_id, job.id, job.filename)
    promotion.copy_verified(store, source, key, job.filename)
    with runtime.transaction() as session:
        won = attachments_db.mark_quarantined(
            session,
            job.id,
            job.owner,
            filename=job.filename,
            content_type=source.content_type,
            size=source.info.size,
            checksum_sha256=source.sha256,
            quarantine_key=key,
            failure_reason=reason,
            **scan_fields(source.scan),
        )
        if won:
            audit.record_system(
                session,
                audit.Action.QUARANTINE,
                account_id=job.account_id,
                patient_id=job.patient_id,
                attachment_id=job.id,
                actor=f"clinifile worker {job.owner}",
                reason=reason,
            )
            events.emit_for(session, EventType.QUARANTINED, job.id)
    if not won:
        raise LeaseLost(f"attachment {job.id} is no longer leased to {job.owner!r}")
    log.warning("attachment %s quarantined: %s", job.id, reason)
    try:
        store.delete(source.info.key)
    except StorageError as error:
        log.warning("attachment %s: %s not deleted (%s)", job.id, source.info.key, error)
