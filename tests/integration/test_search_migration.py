"""Migration 0004 fills the folded search names of the patients that were there before it,
on SQLite and PostgreSQL alike, and down and up again keeps them."""

from __future__ import annotations

from sqlalchemy import create_engine, text

from clinifile.db.migrate import downgrade, upgrade

BEFORE = "0003"  # the revision migration 0004 follows


def _insert_patients(url: str, names: list[tuple[str, str]]) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO accounts (name, region, plan, storage_used_bytes, created_at) "
                    "VALUES ('Clinic', 'au1', 'paid', 0, CURRENT_TIMESTAMP)"
                )
            )
            account_id = conn.execute(text("SELECT MAX(id) FROM accounts")).scalar_one()
            for first, last in names:
                conn.execute(
                    text(
                        "INSERT INTO patients (account_id, first_name, last_name, created_at, "
                        "updated_at) VALUES (:a, :f, :l, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                    ),
                    {"a": account_id, "f": first, "l": last},
                )
    finally:
        engine.dispose()


def _search_names(url: str) -> list[tuple[str, str]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT first_name_search, last_name_search FROM patients ORDER BY id")
            )
            return [(row[0], row[1]) for row in rows]
    finally:
        engine.dispose()


def test_existing_patients_get_their_folded_names(database_url: str) -> None:
    # the fixture's database is empty (SQLite) or migrated (PostgreSQL): to head, then back
    upgrade(database_url)
    downgrade(database_url, BEFORE)
    _insert_patients(database_url, [("José", "Núñez"), ("SØREN", "Straße"), ("Ada", "Lovelace")])
    upgrade(database_url)
    expected = [("jose", "nunez"), ("soren", "strasse"), ("ada", "lovelace")]
    assert _search_names(database_url) == expected
    downgrade(database_url, BEFORE)
    upgrade(database_url)
    assert _search_names(database_url) == expected
