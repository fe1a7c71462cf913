"""The SQL of quarantine and rescans: transitions outside any worker's lease (an operator's
release or delete, a rescan's verdict on a stored file), each a compare-and-set UPDATE that
reports whether it won, and the lists they walk."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from clinifile.db import accounts as accounts_db
from clinifile.db.models import Attachment
from clinifile.db.types import rowcount, utcnow
from clinifile.domain.states import AttachmentState


def get(session: Session, attachment_id: int) -> Attachment | None:
    """Any account's attachment: operators act across accounts."""
    return session.get(Attachment, attachment_id)


def quarantined(session: Session, *, account_id: int | None = None) -> list[Attachment]:
    """Every quarantined attachment (of one account), oldest first."""
    query = select(Attachment).where(Attachment.state == AttachmentState.QUARANTINED)
    if account_id is not None:
        query = query.where(Attachment.account_id == account_id)
    return list(session.scalars(query.order_by(Attachment.id)))


def _update(session: Session, attachment_id: int, *where: Any, **values: Any) -> bool:
    result = session.execute(
        update(Attachment)
        .where(Attachment.id == attachment_id, *where)
        .values(updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result) == 1


def release(session: Session, attachment_id: int, *, permanent_key: str) -> bool:
    """Quarantined → completed, served from permanent_key; its bytes were counted all along."""
    return _update(
        session,
        attachment_id,
        Attachment.state == AttachmentState.QUARANTINED,
        state=AttachmentState.COMPLETED,
        permanent_key=permanent_key,
        quarantine_key=None,
        failure_reason=None,
        processed_at=utcnow(),
    )


def discard(
    session: Session, attachment_id: int, *, account_id: int, reserved_bytes: int, reason: str
) -> bool:
    """Quarantined → failed, and its reserved_bytes given back to its account, in the
    caller's transaction; False, changing nothing, if it moved on meanwhile."""
    won = _update(
        session,
        attachment_id,
        Attachment.state == AttachmentState.QUARANTINED,
        Attachment.reserved_bytes == reserved_bytes,
        state=AttachmentState.FAILED,
        quarantine_key=None,
        reserved_bytes=0,
        failure_reason=reason,
    )
    if won:
        accounts_db.release(session, account_id, reserved_bytes)
    return won


def rescan_batch(
    session: Session,
    *,
    after_id: int,
    version: str,
    since: datetime | None,
    account_id: int | None,
    limit: int,
) -> list[Attachment]:
    """Stored files (completed, archived ones too) not yet scanned with this signature
    version, in id order after after_id: a rescan that stopped resumes where it was."""
    query = select(Attachment).where(
        Attachment.id > after_id,
        Attachment.state == AttachmentState.COMPLETED,
        or_(
            Attachment.scan_signature_version.is_(None),
            Attachment.scan_signature_version != version,
        ),
    )
    if since is not None:
        query = query.where(Attachment.created_at >= since)
    if account_id is not None:
        query = query.where(Attachment.account_id == account_id)
    return list(session.scalars(query.order_by(Attachment.id).limit(limit)))


def record_scan(session: Session, attachment_id: int, *, permanent_key: str, **scan: Any) -> bool:
    """A stored file's new clean scan, if it is still the file at permanent_key."""
    return _update(
        session,
        attachment_id,
        Attachment.state == AttachmentState.COMPLETED,
        Attachment.permanent_key == permanent_key,
        **scan,
    )


def quarantine_stored(
    session: Session,
    attachment_id: int,
    *,
    permanent_key: str,
    quarantine_key: str,
    reason: str,
    **scan: Any,
) -> bool:
    """Completed → quarantined (a rescan found malware): no URL is signed for it from now;
    its bytes stay counted."""
    return _update(
        session,
        attachment_id,
        Attachment.state == AttachmentState.COMPLETED,
        Attachment.permanent_key == permanent_key,
        state=AttachmentState.QUARANTINED,
        quarantine_key=quarantine_key,
        failure_reason=reason,
        # its previews go with the permanent file (worker.quarantine deletes both)
        preview_state=None,
        preview_reason=None,
        preview_prefix=None,
        **scan,
    )
