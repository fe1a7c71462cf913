"""One-statement reads run on the driver's own cursor, for a path so hot that SQLAlchemy's
execution costs several times the query.

On the presign path (bench/presign.py) a read through a Connection took about 220 us of
CPU here: the pool, the BEGIN SQLite's engine emits, the execution context, the ORM row;
the same statement on a pooled connection's DB-API cursor takes about 35 us. The statement
is still SQLAlchemy Core, compiled once per dialect; the connection still comes from the
engine's pool (PostgreSQL's pre-ping included) and goes back to it, rolled back. A driver
error is raised as SQLAlchemy's (the API answers a lost database with 503), and a
connection the driver says is broken is dropped from the pool, as a Connection would.

A single SELECT reads one snapshot on both databases, so no transaction is begun for it.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Engine, exc
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

# by statement (kept alive here, so never confused with a later one) and dialect
_compiled: dict[tuple[ClauseElement, str], tuple[str, tuple[str, ...] | None]] = {}


def _compile(statement: ClauseElement, dialect: Dialect) -> tuple[str, tuple[str, ...] | None]:
    """The statement's SQL for this dialect and, for a positional paramstyle, the names of
    its parameters in order (None: the driver takes them by name)."""
    key = (statement, dialect.name)
    found = _compiled.get(key)
    if found is None:
        compiled = cast(SQLCompiler, statement.compile(dialect=dialect))
        order = tuple(compiled.positiontup) if compiled.positiontup is not None else None
        found = _compiled[key] = (compiled.string, order)
    return found


def first_row(engine: Engine, statement: ClauseElement, params: dict[str, Any]) -> Any | None:
    """The first row of statement (a module-level constant: it is compiled once and kept)
    with its bind parameters given by name, as the driver returns it (a tuple), or None."""
    sql, order = _compile(statement, engine.dialect)
    args: Any = tuple(params[name] for name in order) if order is not None else params
    dbapi_error = engine.dialect.loaded_dbapi.Error
    try:
        connection = engine.raw_connection()
    except dbapi_error as error:  # the pool could not connect: the database is down
        raise exc.DBAPIError.instance(sql, args, error, dbapi_error) from error
    try:
        cursor = connection.cursor()
        try:
            cursor.execute(sql, args)
            return cursor.fetchone()
        finally:
            cursor.close()
    except dbapi_error as error:
        broken = engine.dialect.is_disconnect(error, connection.dbapi_connection, None)
        if broken:
            connection.invalidate(error)
        raise exc.DBAPIError.instance(
            sql, args, error, dbapi_error, connection_invalidated=broken
        ) from error
    finally:
        connection.close()
