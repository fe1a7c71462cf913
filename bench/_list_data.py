"""The list pages' data set: one clinic whose patient holds every attachment, grown in steps
by bulk inserts straight into the database (COPY on PostgreSQL, executemany of prepared
rows on SQLite: a million rows in well under a minute), its counts then recounted as
migrations 0008 and 0010 count them, and the planner's statistics brought up to date (what
autovacuum does on a live PostgreSQL, and clinifile when a process starts on SQLite)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice

import psycopg
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from clinifile.db import size_counts
from clinifile.db.accounts import first_user
from clinifile.db.engine import analyse_sqlite
from clinifile.runtime import Runtime
from clinifile.services import accounts

COLUMNS = (
    "account_id, patient_id, user_id, region, temp_key, reserved_bytes, size, filename, "
    "content_type, state, attempts, next_attempt_at, processed_at, created_at, updated_at, "
    "permanent_key"
)
START = datetime(2026, 1, 1, tzinfo=UTC)
BATCH = 50_000


@dataclass(frozen=True)
class Clinic:
    account_id: int
    patient_id: int
    user_id: int
    key: str


def clinic(runtime: Runtime) -> Clinic:
    account_id = accounts.create_account(runtime, name="large", region="au1", plan="paid")
    patient_id = accounts.create_patient(
        runtime, account_id=account_id, first_name="P", last_name="Large"
    )
    key = accounts.create_api_key(runtime, account_id)
    with runtime.sessions() as session:
        user_id = first_user(session, account_id).id
    return Clinic(account_id, patient_id, user_id, key)


def _rows(c: Clinic, start: int, end: int, sqlite: bool) -> Iterator[tuple[object, ...]]:
    for n in range(start, end):
        at = START + timedelta(seconds=n)
        # SQLAlchemy's SQLite text form of a naive UTC datetime; PostgreSQL takes ISO
        when = f"{at:%Y-%m-%d %H:%M:%S}.000000" if sqlite else at.isoformat()
        yield (
            c.account_id,
            c.patient_id,
            c.user_id,
            "au1",
            f"{c.account_id}/t/{n}",
            n % 1000,
            n % 1000,
            f"f{n}.pdf",
            "application/pdf",
            "completed",
            1,
            when,
            when,
            when,
            when,
            f"{c.account_id}/p/{n}",
        )


def grow(engine: Engine, c: Clinic, start: int, end: int) -> None:
    """Adds attachments start..end-1 (created a second apart, sizes 0 to 999) to the clinic's
    patient, then recounts and analyses."""
    sqlite = engine.dialect.name == "sqlite"
    with engine.begin() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        cursor = raw.cursor()
        if sqlite:
            marks = ", ".join("?" * 16)
            rows = _rows(c, start, end, sqlite)
            while batch := list(islice(rows, BATCH)):
                cursor.executemany(f"INSERT INTO attachments ({COLUMNS}) VALUES ({marks})", batch)
        else:
            with cursor.copy(f"COPY attachments ({COLUMNS}) FROM STDIN") as copy:
                for row in _rows(c, start, end, sqlite):
                    copy.write_row(row)
        conn.exec_driver_sql("DELETE FROM attachment_counts")
        for patient, group in (("patient_id", ", patient_id"), ("0", "")):
            conn.exec_driver_sql(
                "INSERT INTO attachment_counts (account_id, patient_id, live, archived) "
                f"SELECT account_id, {patient}, "
                "SUM(CASE WHEN archived_at IS NULL THEN 1 ELSE 0 END), "
                "SUM(CASE WHEN archived_at IS NULL THEN 0 ELSE 1 END) "
                f"FROM attachments GROUP BY account_id{group}"
            )
        conn.exec_driver_sql("DELETE FROM attachment_size_counts")
        conn.execute(text(size_counts.RECOUNT))
    if sqlite:  # what clinifile does when a process starts
        with engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            analyse_sqlite(raw)
    else:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE attachments")


@contextlib.contextmanager
def scratch_postgres(url: str) -> Iterator[str]:
    """A database of its own on url's server, dropped afterwards."""
    name = f"clinifile_bench_lists_{uuid.uuid4().hex[:8]}"
    parsed = make_url(url)
    admin = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield parsed.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
