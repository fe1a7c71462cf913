"""The same Alembic migrations on SQLite and PostgreSQL: up from empty, down a step, up."""

from __future__ import annotations

from sqlalchemy import create_engine, inspect

from clinifile.db.migrate import downgrade, upgrade
from clinifile.db.models import Base


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


# the tables of 0005: patient cases and webhooks
INTEGRATORS = {
    "patient_cases",
    "patient_case_attachments",
    "webhook_endpoints",
    "webhook_events",
    "webhook_deliveries",
}

# the tables of 0007, 0008 and 0010 (multipart uploads, attachment counts, size counts):
# gone below 0005 too
LATER = {"multipart_uploads", "attachment_counts", "attachment_size_counts"}


def test_migrations_go_down_and_up_again(database_url: str) -> None:
    # the database_url fixture hands out a migrated database (SQLite: an empty file)
    upgrade(database_url)
    assert _tables(database_url) == set(Base.metadata.tables)
    downgrade(database_url, "0004")
    assert _tables(database_url) == set(Base.metadata.tables) - INTEGRATORS - LATER
    downgrade(database_url, "0002")  # columns only since: no table goes
    assert _tables(database_url) == set(Base.metadata.tables) - INTEGRATORS - LATER
    downgrade(database_url, "0001")
    assert _tables(database_url) == (
        set(Base.metadata.tables) - INTEGRATORS - LATER - {"audit_events"}
    )
    downgrade(database_url, "base")
    assert _tables(database_url) == set()
    upgrade(database_url)
    assert _tables(database_url) == set(Base.metadata.tables)


def test_models_match_the_migrations(database_url: str) -> None:
    upgrade(database_url)
    engine = create_engine(database_url)
    try:
        inspector = inspect(engine)
        for table in Base.metadata.sorted_tables:
            migrated = {c["name"] for c in inspector.get_columns(table.name)}
            assert migrated == {c.name for c in table.columns}, table.name
            indexes = {i["name"] for i in inspector.get_indexes(table.name)}
            assert {i.name for i in table.indexes} <= indexes, table.name
    finally:
        engine.dispose()
