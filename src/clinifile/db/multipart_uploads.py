"""Multipart uploads clients opened (issue 17): the store's upload id stays on the server,
and every change of state is one conditional UPDATE, so two requests never both complete
or abort one upload."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from clinifile.db.models import MultipartUpload
from clinifile.db.types import rowcount, utcnow

OPEN = "open"
COMPLETING = "completing"  # the store is joining its parts now
COMPLETED = "completed"
ABORTED = "aborted"


def add(session: Session, upload: MultipartUpload) -> MultipartUpload:
    session.add(upload)
    session.flush()
    return upload


def get(session: Session, account_id: int, upload_id: int) -> MultipartUpload | None:
    """The account's upload; None for another account's (the API's 404)."""
    return session.scalars(
        select(MultipartUpload).where(
            MultipartUpload.id == upload_id, MultipartUpload.account_id == account_id
        )
    ).first()


def move(
    session: Session, upload_id: int, from_state: str, to_state: str, **values: object
) -> bool:
    """Moves the upload from from_state to to_state (with values); False, changing nothing,
    when it is no longer in from_state."""
    if to_state in {COMPLETED, ABORTED}:
        values.setdefault("ended_at", utcnow())
    result = session.execute(
        update(MultipartUpload)
        .where(MultipartUpload.id == upload_id, MultipartUpload.state == from_state)
        .values(state=to_state, **values)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result) == 1


def expired(session: Session, before: datetime, limit: int) -> list[MultipartUpload]:
    """Open uploads (or ones a crash left completing) that expired before `before`."""
    return list(
        session.scalars(
            select(MultipartUpload)
            .where(
                MultipartUpload.state.in_([OPEN, COMPLETING]),
                MultipartUpload.expires_at < before,
            )
            .order_by(MultipartUpload.expires_at)
            .limit(limit)
        )
    )


def known_store_ids(session: Session, store_upload_ids: list[str]) -> set[str]:
    """Which of these store upload ids belong to uploads not yet ended."""
    if not store_upload_ids:
        return set()
    return set(
        session.scalars(
            select(MultipartUpload.store_upload_id).where(
                MultipartUpload.store_upload_id.in_(store_upload_ids),
                MultipartUpload.state.in_([OPEN, COMPLETING]),
            )
        )
    )
