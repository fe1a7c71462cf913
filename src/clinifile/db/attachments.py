"""Attachments, and all the SQL of the processing queue (the attachments table is the queue).

Every state change is a compare-and-set UPDATE: it names the state (and lease owner) it
expects, and reports whether it won.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from sqlalchemy import BindParameter, and_, bindparam, or_, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from clinifile.db import accounts as accounts_db
from clinifile.db import counts, listing, size_counts
from clinifile.db.models import Attachment
from clinifile.db.types import rowcount, utcnow
from clinifile.domain.queries import ListQuery, names_archived
from clinifile.domain.states import AttachmentState
from clinifile.errors import LeaseLost, OverQuota


def insert(session: Session, **fields: Any) -> Attachment:
    now = utcnow()
    attachment = Attachment(
        state=AttachmentState.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
        **fields,
    )
    session.add(attachment)
    session.flush()
    counts.inserted(session, attachment.account_id, attachment.patient_id)
    size_counts.sized(
        session, attachment.account_id, attachment.id, attachment.size, archived=False
    )
    return attachment


NOTIFY_CHANNEL = "clinifile_attachments"


def notify_new_work(session: Session) -> None:
    """Wakes listening workers (PostgreSQL) when this transaction commits; no-op on SQLite,
    where workers poll."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": NOTIFY_CHANNEL})


def temp_key_states(session: Session, keys: list[str]) -> dict[str, AttachmentState]:
    """The state of the attachment each of these temp keys backs (absent: none)."""
    if not keys:
        return {}
    rows = session.execute(
        select(Attachment.temp_key, Attachment.state).where(Attachment.temp_key.in_(keys))
    )
    return {key: AttachmentState(state) for key, state in rows}


def hand_back(session: Session, attachment_id: int, owner: str) -> bool:
    """Hands a job leased to owner back to the queue before any step of it ran: due at
    once, and the attempt its claim counted taken back."""
    return _update_leased(
        session,
        attachment_id,
        owner,
        state=AttachmentState.PENDING,
        lease_owner=None,
        lease_expires_at=None,
        next_attempt_at=utcnow(),
        attempts=Attachment.attempts - 1,
    )


def release_leases(session: Session, owner: str) -> int:
    """Hands every job leased to owner back to the queue (graceful shutdown)."""
    result = session.execute(
        update(Attachment)
        .where(Attachment.state == AttachmentState.PROCESSING, Attachment.lease_owner == owner)
        .values(
            state=AttachmentState.PENDING,
            lease_owner=None,
            lease_expires_at=None,
            next_attempt_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    return int(rowcount(result))


def get(session: Session, account_id: int, attachment_id: int) -> Attachment | None:
    """The attachment of this account (archived included), or None."""
    return session.scalars(
        select(Attachment).where(
            Attachment.id == attachment_id, Attachment.account_id == account_id
        )
    ).first()


COLUMNS: dict[str, Any] = {
    "id": Attachment.id,
    "patient_id": Attachment.patient_id,
    "user_id": Attachment.user_id,
    "content_type": Attachment.content_type,
    "description": Attachment.description,
    "filename": Attachment.filename,
    "size": Attachment.size,
    "checksum_sha256": Attachment.checksum_sha256,
    "processing_completed": Attachment.state == AttachmentState.COMPLETED,
    "processing_state": Attachment.state,
    "created_at": Attachment.created_at,
    "updated_at": Attachment.updated_at,
    "processed_at": Attachment.processed_at,
    "archived_at": Attachment.archived_at,
    "pinned_at": Attachment.pinned_at,
}


def page(
    session: Session,
    account_id: int,
    *,
    patient_id: int | None,
    list_query: ListQuery,
) -> tuple[list[Attachment], int]:
    query = select(Attachment).where(Attachment.account_id == account_id)
    if patient_id is not None:
        query = query.where(Attachment.patient_id == patient_id)
    if not names_archived(list_query.filters):
        query = query.where(Attachment.archived_at.is_(None))
    known = counts.total(session, account_id, patient_id, list_query.filters)
    if known is None:
        known = size_counts.total(session, account_id, patient_id, list_query.filters)
    return listing.page(session, query, COLUMNS, Attachment.id, list_query, total=known)


def _set_archived(session: Session, attachment: Attachment, archived_at: datetime | None) -> None:
    """Archives the attachment (or brings it back) if it is not already, and counts it in the
    same transaction: one conditional UPDATE, so that of two concurrent archivings only one
    moves the counts (its size as that UPDATE finds it: a racing completion either came
    first, its size moved here, or waits for the row and sees it archived)."""
    archiving = archived_at is not None
    was = Attachment.archived_at.is_(None) if archiving else Attachment.archived_at.is_not(None)
    moved = session.execute(
        update(Attachment)
        .where(Attachment.id == attachment.id, was)
        .values(archived_at=archived_at)
        .returning(Attachment.size)
        .execution_options(synchronize_session=False)
    ).first()
    if moved is not None:
        counts.archived(session, attachment.account_id, attachment.patient_id, archiving=archiving)
        size_counts.archived(
            session, attachment.account_id, attachment.id, moved.size, archiving=archiving
        )
    set_committed_value(attachment, "archived_at", archived_at)


def update_fields(session: Session, attachment: Attachment, **fields: Any) -> None:
    """Sets the fields (archived_at: archives or brings back, counted) and updated_at; not
    size (the job that ends processing sets it, counted: db.size_counts)."""
    assert "size" not in fields, "only the end of an attachment's processing sets its size"
    if "archived_at" in fields:
        _set_archived(session, attachment, fields.pop("archived_at"))
    for name, value in fields.items():
        setattr(attachment, name, value)
    attachment.updated_at = utcnow()
    session.flush()


# --- the queue -------------------------------------------------------------------------


class JobRow(Protocol):
    """What a processing job needs of its attachment (worker.steps.Job): a row of
    JOB_COLUMNS."""

    id: int
    account_id: int
    patient_id: int
    region: str
    temp_key: str
    attempts: int
    reserved_bytes: int
    request_id: str | None


JOB_COLUMNS = (
    Attachment.id,
    Attachment.account_id,
    Attachment.patient_id,
    Attachment.region,
    Attachment.temp_key,
    Attachment.attempts,
    Attachment.reserved_bytes,
    Attachment.request_id,
)


def _claimable(now: datetime | BindParameter[Any]) -> Any:
    return or_(
        and_(Attachment.state == AttachmentState.PENDING, Attachment.next_attempt_at <= now),
        and_(
            Attachment.state == AttachmentState.PROCESSING,
            Attachment.lease_expires_at < now,
        ),
    )


def _claim_statement() -> Any:
    """The claim, built once: statements built anew for each job cost more Python than the
    database spends on them (SQLAlchemy caches compiled SQL by a key made from the
    statement object; a module-level statement keeps that key too)."""
    now: BindParameter[Any] = bindparam("now")
    candidate = (
        select(Attachment.id)
        .where(_claimable(now))
        .order_by(Attachment.next_attempt_at)
        .limit(1)
        # PostgreSQL: concurrent workers pick different rows (SQLite has no row locks: it
        # leaves the clause out, and its writers take turns)
        .with_for_update(skip_locked=True)
    )
    return (
        update(Attachment)
        .where(Attachment.id == candidate.scalar_subquery(), _claimable(now))
        .values(
            state=AttachmentState.PROCESSING,
            lease_owner=bindparam("owner"),
            lease_expires_at=bindparam("lease_expires_at"),
            attempts=Attachment.attempts + 1,
        )
        .returning(*JOB_COLUMNS)
        .execution_options(synchronize_session=False)
    )


_CLAIM = _claim_statement()


def commit_unflushed(session: Session) -> None:
    """Lets the transaction of a lone claim commit without waiting for its WAL to reach the
    disk (a flush a job, ~1 ms here; PostgreSQL only): a claim lost in a database crash
    leaves the job due again, and every step after it is safe to repeat
    (worker.promotion). Completions, and the claims made with them, stay synchronous."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL synchronous_commit = off"))


def claim_next(session: Session, *, owner: str, lease_seconds: int) -> JobRow | None:
    """Leases the next due attachment (or one whose lease ran out) to owner: what the job
    needs of it (as `leased` gives), or None when none is due.

    One statement: an UPDATE of the first due row its subquery finds. On PostgreSQL the
    subquery locks that row with SKIP LOCKED, so concurrent workers pick different rows;
    the UPDATE re-checks the condition either way (None when another took it first).
    """
    now = utcnow()
    lease = {"now": now, "owner": owner, "lease_expires_at": now + timedelta(seconds=lease_seconds)}
    # on the session's connection: Core SQL (the ORM's execution of an UPDATE costs ~0.1 ms
    # of CPU more, and every job is claimed)
    row = session.connection().execute(_CLAIM, lease).first()
    return cast(JobRow | None, row)


def leased(session: Session, attachment_id: int, owner: str) -> JobRow | None:
    """What the job needs of the attachment if owner holds its lease, else None."""
    row = session.execute(
        select(*JOB_COLUMNS).where(
            Attachment.id == attachment_id,
            Attachment.state == AttachmentState.PROCESSING,
            Attachment.lease_owner == owner,
        )
    ).first()
    return cast(JobRow | None, row)


def _update_leased(
    session: Session, attachment_id: int, owner: str, *also: Any, **values: Any
) -> bool:
    """One conditional UPDATE of an attachment leased to owner (and matching `also`)."""
    result = session.execute(
        update(Attachment)
        .where(
            Attachment.id == attachment_id,
            Attachment.state == AttachmentState.PROCESSING,
            Attachment.lease_owner == owner,
            *also,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result) == 1


def _transition(
    session: Session, attachment_id: int, owner: str, *also: Any, **values: Any
) -> bool:
    """Ends owner's lease with a new state."""
    return _update_leased(
        session,
        attachment_id,
        owner,
        *also,
        updated_at=utcnow(),
        lease_owner=None,
        lease_expires_at=None,
        **values,
    )


def settle_reservation(
    session: Session, attachment_id: int, owner: str, *, account_id: int, expected: int, size: int
) -> None:
    """Counts size bytes for the leased attachment instead of the expected bytes it counts
    now, and the difference against its account, in the caller's transaction.

    LeaseLost if owner no longer holds the lease or the count is no longer `expected`;
    OverQuota if the larger size does not fit the account's limit. Either way the caller's
    transaction must roll back (runtime.transaction() does), so nothing is counted.
    The attachment is updated first: a lost lease touches no account row.
    """
    if not _update_leased(
        session, attachment_id, owner, Attachment.reserved_bytes == expected, reserved_bytes=size
    ):
        raise LeaseLost(f"attachment {attachment_id} is no longer leased to {owner!r}")
    delta = size - expected
    if delta > 0 and not accounts_db.reserve(session, account_id, delta):
        raise OverQuota(
            f"the upload is {size} bytes, {delta} more than when it was registered, "
            f"and account {account_id}'s storage limit has no room for them"
        )
    if delta < 0:
        accounts_db.release(session, account_id, -delta)


def mark_quarantined(session: Session, attachment_id: int, owner: str, **fields: Any) -> bool:
    """Ends the lease in quarantine, its size counted (db.size_counts); its reserved bytes
    stay counted until an operator releases or deletes it."""
    won = _transition(session, attachment_id, owner, state=AttachmentState.QUARANTINED, **fields)
    if won:
        size_counts.sized_row(session, attachment_id)
    return won


def mark_retry(
    session: Session, attachment_id: int, owner: str, *, delay_seconds: float, reason: str
) -> bool:
    return _transition(
        session,
        attachment_id,
        owner,
        state=AttachmentState.PENDING,
        next_attempt_at=utcnow() + timedelta(seconds=delay_seconds),
        failure_reason=reason,
    )


def mark_failed(
    session: Session,
    attachment_id: int,
    owner: str,
    *,
    reason: str,
    account_id: int,
    reserved_bytes: int,
    filename: str | None = None,
) -> bool:
    """Fails the leased attachment (recording the file name it had, so that a clinic can
    tell which upload failed) and gives the reserved_bytes it counts back to its account,
    in the caller's transaction; False, changing nothing, if the lease or the count moved
    on."""
    won = _transition(
        session,
        attachment_id,
        owner,
        Attachment.reserved_bytes == reserved_bytes,
        state=AttachmentState.FAILED,
        failure_reason=reason,
        reserved_bytes=0,
        filename=filename,
    )
    if won:
        accounts_db.release(session, account_id, reserved_bytes)
    return won
