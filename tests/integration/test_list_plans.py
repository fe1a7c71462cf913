"""A large clinic's lists walk the indexes made for them, on SQLite and PostgreSQL: a page
of the default order (or newest first, filtered by size) reads that order's index and sorts
nothing; a count under a size filter sums the size bands it covers and reads the size index
over the slice of the one it cuts. What bench.list_pages measures at a million rows, held
here at 20,000 (the plans the databases choose with statistics: SQLite's gathered when a
process first connects, PostgreSQL's by ANALYZE)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, insert
from sqlalchemy.orm import Session

from clinifile.db import attachments as attachments_db
from clinifile.db.accounts import first_user
from clinifile.db.engine import make_engine
from clinifile.db.models import Attachment
from clinifile.domain.queries import Filter, ListQuery, Sort
from clinifile.runtime import Runtime
from tests.factories import make_tenant

ROWS = 20_000
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _fill(runtime: Runtime, account_id: int, patient_id: int) -> None:
    with runtime.transaction() as session:
        user_id = first_user(session, account_id).id
        session.execute(
            insert(Attachment),
            [
                {
                    "account_id": account_id,
                    "patient_id": patient_id,
                    "user_id": user_id,
                    "region": "au1",
                    "temp_key": f"{account_id}/plans/{n}",
                    "size": n % 1000,
                    "state": "completed",
                    "created_at": T0 + timedelta(seconds=n),
                    "updated_at": T0,
                    "next_attempt_at": T0,
                }
                for n in range(ROWS)
            ],
        )


def _plans(database_url: str, account_id: int, patient_id: int, query: ListQuery) -> list[str]:
    """The plan of each statement a list runs, on a new engine (as a process starting)."""
    engine = make_engine(database_url)
    try:
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE attachments")
        seen: list[tuple[str, Any]] = []

        def record(_c: Any, _cur: Any, statement: str, params: Any, *_: Any) -> None:
            if "FROM attachments" in statement:
                seen.append((statement, params))

        event.listen(engine, "before_cursor_execute", record)
        with Session(engine) as session:
            attachments_db.page(session, account_id, patient_id=patient_id, list_query=query)
        event.remove(engine, "before_cursor_execute", record)
        sqlite = engine.dialect.name == "sqlite"
        with engine.connect() as conn:
            return [
                "\n".join(
                    str(row[-1] if sqlite else row[0])
                    for row in conn.exec_driver_sql(
                        ("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ") + statement, params
                    )
                )
                for statement, params in seen
            ]
    finally:
        engine.dispose()


def _sorts_nothing(plan: str) -> bool:
    return "TEMP B-TREE" not in plan and "Sort" not in plan


def test_a_large_clinics_lists_walk_their_indexes(runtime: Runtime, database_url: str) -> None:
    tenant = make_tenant(runtime)
    _fill(runtime, tenant.account_id, tenant.patient_id)
    account, patient = tenant.account_id, tenant.patient_id

    # the first page of the account's list: its total is kept, so one statement
    [page] = _plans(database_url, account, None, ListQuery([], [], page=1, per_page=50))
    assert "ix_attachments_account_live_created" in page and _sorts_nothing(page), page

    [page] = _plans(database_url, account, patient, ListQuery([], [], page=10, per_page=50))
    assert "ix_attachments_patient_live_created" in page and _sorts_nothing(page), page

    sized = ListQuery([Filter("size", ">=", (500,))], [Sort("created_at", descending=True)], 1, 50)
    count, page = _plans(database_url, account, None, sized)
    # the bands above the one 500 cuts, summed; that band's slice read from the size index
    assert "attachment_size_counts" in count and "ix_attachments_account_live_size" in count, count
    assert "size<?" in count or "(size < " in count, count
    assert "ix_attachments_account_live_created" in page and _sorts_nothing(page), page
