"""Engines and sessions for SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)


def make_engine(url: str, pool_size: int = 10) -> Engine:
    """An engine tuned for its backend.

    SQLite runs in WAL mode with a busy timeout so that the API, the worker thread and
    CLI commands can use one file at once; writers wait instead of failing. Transactions
    that write take the write lock at BEGIN (IMMEDIATE), so read-then-write transactions
    cannot deadlock; sessions that only read (READ_ONLY) begin deferred and never wait for
    a writer (WAL). A local file needs no pre-ping.
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        analysed: list[bool] = []

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # take the write lock at BEGIN so read-then-write transactions cannot deadlock
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()
            if not analysed:
                analysed.append(True)
                analyse_sqlite(dbapi_connection)

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            reads_only = conn.get_execution_options().get(READ_ONLY, False)
            conn.exec_driver_sql("BEGIN" if reads_only else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=pool_size, max_overflow=pool_size)


def analyse_sqlite(dbapi_connection: Any) -> None:
    """Gathers the planner's statistics (sqlite_stat1), once per process at its first
    connection, sampling at most ANALYSIS_LIMIT rows of each index (milliseconds, whatever
    the size of the tables). PostgreSQL's autovacuum does this by itself; SQLite never does,
    and without statistics it reads a list of a large clinic filtered by size through the
    size index and sorts every match, instead of walking the sort's index (bench.list_pages).
    """
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}")
        cursor.execute("ANALYZE")
    except sqlite3.Error as error:  # a read-only file, a lock held past the timeout
        log.warning("SQLite statistics not gathered: %s", error)
    finally:
        cursor.close()


ANALYSIS_LIMIT = 1000


READ_ONLY = "clinifile_read_only"


def make_sessionmaker(engine: Engine, *, read_only: bool = False) -> sessionmaker[Session]:
    """read_only: sessions for reads (on SQLite they do not take the write lock)."""
    bind = engine.execution_options(**{READ_ONLY: True}) if read_only else engine
    return sessionmaker(bind, expire_on_commit=False)
