"""The previews' columns of attachments: recorded by the worker, listed for a rebuild."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from clinifile.db.models import Attachment
from clinifile.db.types import rowcount, utcnow
from clinifile.domain.states import AttachmentState


def record(
    session: Session,
    attachment_id: int,
    *,
    permanent_key: str,
    state: str,
    reason: str | None,
    prefix: str | None,
) -> bool:
    """Records what became of the previews while the attachment is still completed from
    permanent_key; False, changing nothing, if it moved on (a rescan quarantined it)."""
    result = session.execute(
        update(Attachment)
        .where(
            Attachment.id == attachment_id,
            Attachment.state == AttachmentState.COMPLETED,
            Attachment.permanent_key == permanent_key,
        )
        .values(
            preview_state=state,
            preview_reason=reason,
            preview_prefix=prefix,
            previewed_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    return rowcount(result) == 1


def rebuild_batch(
    session: Session,
    *,
    after_id: int,
    limit: int,
    account_id: int | None = None,
    since: datetime | None = None,
) -> list[int]:
    """Ids of completed attachments with no preview yet (state null), after after_id in id
    order: a rebuild resumes where it stopped."""
    query = select(Attachment.id).where(
        Attachment.id > after_id,
        Attachment.state == AttachmentState.COMPLETED,
        Attachment.preview_state.is_(None),
    )
    if account_id is not None:
        query = query.where(Attachment.account_id == account_id)
    if since is not None:
        query = query.where(Attachment.created_at >= since)
    return list(session.scalars(query.order_by(Attachment.id).limit(limit)))
