"""patients.first_name_search and last_name_search: the names folded for search (accents
and case ignored, domain/search.py), filled for every existing patient

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from clinifile.domain.search import fold

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_BATCH = 1000


def upgrade() -> None:
    with op.batch_alter_table("patients") as batch:
        batch.add_column(sa.Column("first_name_search", sa.Text, nullable=False, server_default=""))
        batch.add_column(sa.Column("last_name_search", sa.Text, nullable=False, server_default=""))
    patients = sa.table(
        "patients",
        sa.column("id", sa.BigInteger),
        sa.column("first_name", sa.String),
        sa.column("last_name", sa.String),
        sa.column("first_name_search", sa.Text),
        sa.column("last_name_search", sa.Text),
    )
    conn = op.get_bind()
    update = (
        patients.update()
        .where(patients.c.id == sa.bindparam("row_id"))
        .values(
            first_name_search=sa.bindparam("first_folded"),
            last_name_search=sa.bindparam("last_folded"),
        )
    )
    last_id = 0
    while True:  # by id, a batch at a time: no table held in memory
        rows = conn.execute(
            sa.select(patients.c.id, patients.c.first_name, patients.c.last_name)
            .where(patients.c.id > last_id)
            .order_by(patients.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            break
        conn.execute(
            update,
            [
                {
                    "row_id": row.id,
                    "first_folded": fold(row.first_name),
                    "last_folded": fold(row.last_name),
                }
                for row in rows
            ],
        )
        last_id = rows[-1].id


def downgrade() -> None:
    with op.batch_alter_table("patients") as batch:
        batch.drop_column("last_name_search")
        batch.drop_column("first_name_search")
