"""How many of each account's attachments have a size in each narrow band, kept beside them:
a list filtered by size reads its exact total_entries from them and counts only the rows of
the one or two bands its bounds cut through.

A band is the sizes from its `size_from` up to the next band's: every size below 64 is a
band of its own, and each power of two above is cut into 32 bands (each ~3% of its sizes
wide), so the bands cut by a bound hold a small slice of the clinic. Rows per (account,
band, stripe) holding attachments: the live (not archived) and archived ones. An
attachment's size is set once, when its job ends completed or quarantined (from
processing, where it has none); nothing clears it (a quarantined file that is deleted
stays, failed, with its size) and attachments are never deleted, so every change is an
upsert adding deltas, in the transaction of that UPDATE (db.completions, db.attachments:
completion, quarantine, archiving). Each such transaction first locks the attachment's
row, then its attachment_counts rows if it moves them, then one band row: one order, no
deadlock; the upsert's row lock orders concurrent writers on PostgreSQL (no lost update).
A band's count is spread over STRIPES rows (by attachment id; a total sums them): files of
one size completed at once by several workers would otherwise queue for one row's lock
until each commit. On PostgreSQL a completion counts its size in its own statement
(`counting`: no round trip more per job).

Only the account's bands are kept: without an index of a patient's rows by size, counting
a band's slice of one patient reads all that patient's rows anyway, as counting its list
does (a patient's list filtered by size counts its rows). Changing BAND_BITS needs a
migration that recounts the table (as 0010 counts it: RECOUNT).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    bindparam,
    case,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from clinifile.db.models import Attachment, AttachmentSizeCount
from clinifile.domain.queries import Filter

BAND_BITS = 5  # 2**5 = 32 bands in each power of two
STRIPES = 8  # rows per (account, band), each counting the attachments whose id % 8 is its own
EXACT = 1 << (BAND_BITS + 1)  # sizes below this are each a band of their own
LOWEST = -(1 << 63)  # no lower bound (the smallest BIGINT)
TOP = 1 << 63  # no upper bound (one past the largest BIGINT)


def band(size: int) -> int:
    """The smallest size of the band that holds size."""
    if size < EXACT:
        return size
    shift = size.bit_length() - 1 - BAND_BITS
    return size >> shift << shift


def next_band(size_from: int) -> int:
    """The smallest size of the band after the one starting at size_from (TOP after the last)."""
    if size_from < EXACT:
        return size_from + 1
    return size_from + (1 << (size_from.bit_length() - 1 - BAND_BITS))


def band_sql(column: str) -> str:
    """`band` in SQL that SQLite and PostgreSQL both run (integer arithmetic only)."""
    whens = " ".join(
        f"WHEN {column} < {1 << (e + 1)} THEN {column} - {column} % {1 << (e - BAND_BITS)}"
        for e in range(BAND_BITS + 1, 62)
    )
    last = 1 << (62 - BAND_BITS)
    return (
        f"CASE WHEN {column} < {EXACT} THEN {column} {whens} ELSE {column} - {column} % {last} END"
    )


# every account's bands counted from its rows (migration 0010, bench._list_data)
RECOUNT = (
    "INSERT INTO attachment_size_counts (account_id, size_from, stripe, live, archived) "
    "SELECT account_id, size_from, 0, "
    "SUM(CASE WHEN archived_at IS NULL THEN 1 ELSE 0 END), "
    "SUM(CASE WHEN archived_at IS NULL THEN 0 ELSE 1 END) "
    f"FROM (SELECT account_id, archived_at, {band_sql('size')} AS size_from "
    "FROM attachments WHERE size IS NOT NULL) AS sized GROUP BY account_id, size_from"
)


def _adding(statement: Any) -> Any:
    """An INSERT into the bands made an upsert that adds its live and archived deltas to
    the row it meets."""
    return statement.on_conflict_do_update(
        index_elements=[
            AttachmentSizeCount.account_id,
            AttachmentSizeCount.size_from,
            AttachmentSizeCount.stripe,
        ],
        set_={
            "live": AttachmentSizeCount.live + statement.excluded.live,
            "archived": AttachmentSizeCount.archived + statement.excluded.archived,
        },
    )


def _upsert(insert: Any) -> Any:
    statement = insert(AttachmentSizeCount).values(
        account_id=bindparam("account_id"),
        size_from=bindparam("size_from"),
        stripe=bindparam("stripe"),
        live=bindparam("live"),
        archived=bindparam("archived"),
    )
    return _adding(statement)


# built once: one runs in every completion (on SQLite; PostgreSQL's is `counting`)
_UPSERTS = {"postgresql": _upsert(pg_insert), "sqlite": _upsert(sqlite_insert)}


def counting(update_returning: Any) -> Any:
    """PostgreSQL: one statement that runs update_returning (an UPDATE of one attachment
    RETURNING its account_id and archived_at) and counts that attachment's new size, bound
    as `band_params` gives; it returns a row if and only if the UPDATE matched. One round
    trip where the UPDATE and `sized` take two (a data-modifying WITH)."""
    done = update_returning.cte("done")
    live = case((done.c.archived_at.is_(None), 1), else_=0)
    statement = pg_insert(AttachmentSizeCount).from_select(
        ["account_id", "size_from", "stripe", "live", "archived"],
        select(
            done.c.account_id,
            bindparam("size_from", type_=BigInteger),
            bindparam("stripe", type_=Integer),
            live,
            1 - live,
        ),
    )
    return _adding(statement).returning(literal_column("1"))


def band_params(attachment_id: int, size: int) -> dict[str, int]:
    """The row of an attachment of this size, as `counting`'s statement binds it."""
    return {"size_from": band(size), "stripe": attachment_id % STRIPES}


def _add(
    session: Session, account_id: int, attachment_id: int, size: int, live: int, archived: int
) -> None:
    # on the session's connection, without the ORM's execution: a completion's CPU counts
    connection = session.connection()
    connection.execute(
        _UPSERTS[connection.dialect.name],
        {"account_id": account_id, "live": live, "archived": archived}
        | band_params(attachment_id, size),
    )


def sized(
    session: Session, account_id: int, attachment_id: int, size: int | None, *, archived: bool
) -> None:
    """The account's attachment got its size in this transaction (archived: while
    archived)."""
    if size is not None:
        _add(session, account_id, attachment_id, size, 0 if archived else 1, 1 if archived else 0)


def sized_row(session: Session, attachment_id: int) -> None:
    """The attachment got its size in this transaction: counts it as its row now reads
    (that UPDATE holds the row's lock, so archiving cannot move it meanwhile). A second
    statement: for the rare ends (quarantine); a completion has them from its RETURNING."""
    row = session.execute(
        select(Attachment.account_id, Attachment.size, Attachment.archived_at).where(
            Attachment.id == attachment_id
        )
    ).one()
    sized(session, row.account_id, attachment_id, row.size, archived=row.archived_at is not None)


def archived(
    session: Session, account_id: int, attachment_id: int, size: int | None, *, archiving: bool
) -> None:
    """The account's attachment of this size was archived (or brought back) in this
    transaction."""
    if size is not None:
        step = 1 if archiving else -1
        _add(session, account_id, attachment_id, size, -step, step)


_ARCHIVED = {"?": {"archived"}, "!?": {"live"}, "*": {"live", "archived"}}
_STATE = {"live": Attachment.archived_at.is_(None), "archived": Attachment.archived_at.is_not(None)}


def _span(filters: list[Filter]) -> tuple[int, int, set[str]] | None:
    """The sizes [lo, hi) and the archiving states (live, archived) the filters select;
    None unless they are size comparisons (at least one) and archived_at's presence."""
    lo, hi, states, by_size = LOWEST, TOP, {"live"}, False
    named_archived = False
    for f in filters:
        if f.field == "archived_at" and f.op in _ARCHIVED:
            states = _ARCHIVED[f.op] & (states if named_archived else _ARCHIVED["*"])
            named_archived = True
        elif f.field == "size" and f.op in (">=", ">", "<=", "<", "?"):
            by_size = True
            if f.op != "?":
                value = int(f.values[0])
                if f.op in (">=", ">"):
                    lo = max(lo, value + (f.op == ">"))
                else:
                    hi = min(hi, value + (f.op == "<="))
        else:
            return None
    return (lo, hi, states) if by_size else None


def _rows(account_id: int, state: str, lo: int, hi: int) -> Any:
    """COUNT(*) of the account's rows in this state with lo <= size < hi."""
    where: list[ColumnElement[bool]] = [
        Attachment.account_id == account_id,
        _STATE[state],
        Attachment.size >= lo,
    ]
    if hi < TOP:
        where.append(Attachment.size < hi)
    return select(func.count()).select_from(Attachment).where(*where).scalar_subquery()


def total(
    session: Session, account_id: int, patient_id: int | None, filters: list[Filter]
) -> int | None:
    """How many attachments an account's list under these filters holds: the bands wholly
    inside its sizes, from the counts, plus the rows of the bands its bounds cut, counted
    (one statement: one snapshot). None when the filters are other than size comparisons
    and archived_at's presence, or for one patient's list (count the rows then)."""
    span = _span(filters) if patient_id is None else None
    if span is None:
        return None
    lo, hi, states = span
    if lo >= hi or not states:
        return 0
    whole_lo = lo if band(lo) == lo else next_band(band(lo))
    whole_hi = hi if band(hi) == hi else band(hi)
    parts: list[Any] = []
    if whole_lo >= whole_hi:  # no whole band: the slice lies in one or two bands
        slices = [(lo, hi)]
    else:
        slices = [s for s in ((lo, whole_lo), (whole_hi, hi)) if s[0] < s[1]]
        columns = [getattr(AttachmentSizeCount, state) for state in sorted(states)]
        kept = sum(columns[1:], start=columns[0])
        where = [
            AttachmentSizeCount.account_id == account_id,
            AttachmentSizeCount.size_from >= whole_lo,
        ]
        if whole_hi < TOP:
            where.append(AttachmentSizeCount.size_from < whole_hi)
        parts.append(select(func.coalesce(func.sum(kept), 0)).where(*where).scalar_subquery())
    parts += [_rows(account_id, state, a, b) for a, b in slices for state in sorted(states)]
    return int(session.scalar(select(sum(parts[1:], start=parts[0]))) or 0)
