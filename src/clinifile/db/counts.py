"""How many attachments each account and each of its patients hold, kept beside them.

One row per (account, patient) and one per account under patient_id 0 (ACCOUNT): the live
(not archived) and archived attachments. Every change is an upsert that adds deltas, made in
the transaction that inserts or archives the attachments (db.attachments), so a count is
exactly what COUNT(*) would give once that transaction commits; on PostgreSQL the row lock
it takes orders concurrent writers (no lost update). Attachments are never deleted (a
quarantined file that is deleted stays, failed), nor moved to another patient.

A list asks `total` for its total_entries: the count when its filters are only about
archiving, else None (the list counts the rows its filters select, from an index).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from clinifile.db.models import AttachmentCount
from clinifile.domain.queries import Filter

ACCOUNT = 0


def _add(session: Session, account_id: int, patient_id: int, live: int, archived: int) -> None:
    """Adds the deltas to the account's row and the patient's, in this order (concurrent
    writers lock them in the same order: no deadlock)."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(AttachmentCount).values(
        [
            {"account_id": account_id, "patient_id": p, "live": live, "archived": archived}
            for p in (ACCOUNT, patient_id)
        ]
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[AttachmentCount.account_id, AttachmentCount.patient_id],
            set_={
                "live": AttachmentCount.live + statement.excluded.live,
                "archived": AttachmentCount.archived + statement.excluded.archived,
            },
        )
    )


def inserted(session: Session, account_id: int, patient_id: int, n: int = 1) -> None:
    """n live attachments of this patient were inserted in this transaction."""
    _add(session, account_id, patient_id, n, 0)


def archived(session: Session, account_id: int, patient_id: int, *, archiving: bool) -> None:
    """One attachment of this patient was archived (or brought back) in this transaction."""
    step = 1 if archiving else -1
    _add(session, account_id, patient_id, -step, step)


def counts(session: Session, account_id: int, patient_id: int | None) -> tuple[int, int]:
    """(live, archived) attachments of the account, or of one of its patients."""
    row = session.execute(
        select(AttachmentCount.live, AttachmentCount.archived).where(
            AttachmentCount.account_id == account_id,
            AttachmentCount.patient_id == (ACCOUNT if patient_id is None else patient_id),
        )
    ).first()
    return (int(row.live), int(row.archived)) if row is not None else (0, 0)


def total(
    session: Session, account_id: int, patient_id: int | None, filters: list[Filter]
) -> int | None:
    """How many attachments a list under these filters holds, from the counts; None when a
    filter other than archived_at's presence narrows it (count the rows then)."""
    if not filters:
        return counts(session, account_id, patient_id)[0]
    if len(filters) != 1 or filters[0].field != "archived_at":
        return None
    op = filters[0].op
    if op not in ("?", "!?", "*"):
        return None
    live, archived_n = counts(session, account_id, patient_id)
    return {"?": archived_n, "!?": live, "*": live + archived_n}[op]
