"""Quarantined files and what an operator (or a rescan) does with them.

    quarantine_stored  a stored file a rescan found infected: copy it to its quarantine key
                       (verified), mark it quarantined (no URL is signed from then on),
                       delete the permanent object (URLs signed before stop working)
    release            copy the quarantined bytes to the permanent key, verified against
                       the checksum taken when they were read, delete the quarantine
                       object, mark the attachment completed: served as usual
    delete             delete its objects, then mark it failed and give its bytes back

Each writes its audit event in the transaction of its state change, and each is safe to run
again after a crash at any point: a release that deleted the quarantine object before it
could mark the attachment finds the verified copy and goes on; a delete that removed the
objects finds none and goes on.
"""

from __future__ import annotations

import logging
from typing import Any

from clinifile.db import quarantine as quarantine_db
from clinifile.db.models import Attachment
from clinifile.domain.states import AttachmentState
from clinifile.errors import NotFound, ObjectNotFound, found
from clinifile.runtime import Runtime
from clinifile.services import audit, events
from clinifile.services.events import EventType
from clinifile.services.object_keys import permanent_key, preview_keys, quarantine_key
from clinifile.storage.base import ObjectInfo, ObjectStore
from clinifile.worker import judging, promotion
from clinifile.worker.promotion import Scan, Source
from clinifile.worker.steps import scan_fields

log = logging.getLogger(__name__)


def quarantined(runtime: Runtime, *, account_id: int | None = None) -> list[Attachment]:
    with runtime.sessions() as session:
        return quarantine_db.quarantined(session, account_id=account_id)


def _quarantined(runtime: Runtime, attachment_id: int) -> Attachment:
    with runtime.sessions() as session:
        row = quarantine_db.get(session, attachment_id)
    is_quarantined = row is not None and row.state == AttachmentState.QUARANTINED
    return found(row if is_quarantined else None, f"quarantined attachment {attachment_id}")


def _names(row: Attachment) -> tuple[str, str]:
    """The attachment's quarantine and permanent keys."""
    filename = row.filename or "file"
    return (
        row.quarantine_key or quarantine_key(row.account_id, row.patient_id, row.id, filename),
        permanent_key(row.account_id, row.patient_id, row.id, filename),
    )


def _event(row: Attachment, action: audit.Action, actor: str, reason: str | None) -> dict[str, Any]:
    return dict(
        action=action,
        account_id=row.account_id,
        patient_id=row.patient_id,
        attachment_id=row.id,
        actor=actor,
        reason=reason,
    )


def quarantine_stored(
    runtime: Runtime, row: Attachment, info: ObjectInfo, sha256: str, scan: Scan, actor: str
) -> bool:
    """Quarantines a completed attachment whose stored object (info) a scan found infected;
    False when it was no longer that completed attachment."""
    assert row.permanent_key is not None and scan.signature is not None
    store = runtime.store(row.region)
    held, _ = _names(row)
    source = Source(info, row.content_type or "application/octet-stream", sha256, True, scan)
    promotion.copy_verified(store, source, held, row.filename or "file")
    reason = judging.quarantined_reason(judging.finding(scan.signature, row.content_type))
    with runtime.transaction() as session:
        won = quarantine_db.quarantine_stored(
            session,
            row.id,
            permanent_key=row.permanent_key,
            quarantine_key=held,
            reason=reason,
            **scan_fields(scan),
        )
        if won:
            audit.record_system(session, **_event(row, audit.Action.QUARANTINE, actor, reason))
            events.emit_for(session, EventType.QUARANTINED, row.id)
    if won:
        log.warning("attachment %s quarantined by a rescan: %s", row.id, scan.signature)
        store.delete_many([row.permanent_key, *preview_keys(row.preview_prefix)])
    return won


def _copy_back(store: ObjectStore, row: Attachment, held: str, dest: str) -> None:
    """The quarantined bytes at dest, verified; the quarantine object deleted."""
    assert row.checksum_sha256 is not None
    info = store.head(held)
    if info is None:
        placed = store.head(dest)
        if placed and promotion.read_digest(store, placed, 0).sha256 == row.checksum_sha256:
            return  # an earlier release copied, verified and deleted
        raise ObjectNotFound(f"the quarantined bytes of attachment {row.id} ({held!r}) are gone")
    content_type = row.content_type or "application/octet-stream"
    source = Source(info, content_type, row.checksum_sha256, False)
    promotion.copy_verified(store, source, dest, row.filename or "file")
    store.delete(held)


def release(runtime: Runtime, attachment_id: int, *, reason: str, actor: str) -> Attachment:
    """Serves a quarantined attachment as a completed one (its scan keeps what was found);
    NotFound when it is not quarantined."""
    row = _quarantined(runtime, attachment_id)
    held, final = _names(row)
    _copy_back(runtime.store(row.region), row, held, final)
    with runtime.transaction() as session:
        if not quarantine_db.release(session, row.id, permanent_key=final):
            raise NotFound(f"quarantined attachment {attachment_id}")
        audit.record_system(session, **_event(row, audit.Action.RELEASE, actor, reason))
        # served from now on, as if processing had just completed
        events.emit_for(session, EventType.PROCESSED, row.id)
    log.warning("attachment %s released from quarantine by %s: %s", row.id, actor, reason)
    return _refreshed(runtime, row.id)


def delete(runtime: Runtime, attachment_id: int, *, actor: str) -> Attachment:
    """Deletes a quarantined attachment's bytes (and any copy a crash left) and gives them
    back to its account; the attachment stays, failed, saying why."""
    row = _quarantined(runtime, attachment_id)
    held, final = _names(row)
    runtime.store(row.region).delete_many([held, final, row.temp_key])
    reason = judging.deleted_reason(judging.finding(row.scan_signature, row.content_type))
    with runtime.transaction() as session:
        won = quarantine_db.discard(
            session,
            row.id,
            account_id=row.account_id,
            reserved_bytes=row.reserved_bytes,
            reason=reason,
        )
        if not won:
            raise NotFound(f"quarantined attachment {attachment_id}")
        audit.record_system(session, **_event(row, audit.Action.DELETE, actor, reason))
        events.emit_for(session, EventType.FAILED, row.id)
    log.warning("attachment %s deleted from quarantine by %s", row.id, actor)
    return _refreshed(runtime, row.id)


def _refreshed(runtime: Runtime, attachment_id: int) -> Attachment:
    with runtime.sessions() as session:
        return found(quarantine_db.get(session, attachment_id), "attachment")
