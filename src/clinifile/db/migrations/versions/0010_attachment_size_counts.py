"""attachment_size_counts: how many attachments of each account have a size in each narrow
band (live and archived), counted from the existing rows; a partial index of the archived
rows by size

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from clinifile.db.size_counts import RECOUNT
from clinifile.db.types import BigId

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_ARCHIVED = sa.text("archived_at IS NOT NULL")


def upgrade() -> None:
    op.create_table(
        "attachment_size_counts",
        sa.Column("account_id", BigId, sa.ForeignKey("accounts.id"), primary_key=True),
        sa.Column("size_from", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("stripe", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("live", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("archived", sa.BigInteger, nullable=False, server_default="0"),
    )
    # one grouped scan of the table (the bands of db.size_counts, computed in SQL), each
    # band's count in its stripe 0
    op.execute(RECOUNT)
    # the live rows have theirs (0008); a list of archived ones counts its bands' slices here
    op.create_index(
        "ix_attachments_account_archived_size",
        "attachments",
        ["account_id", "size"],
        postgresql_where=_ARCHIVED,
        sqlite_where=_ARCHIVED,
    )


def downgrade() -> None:
    op.drop_index("ix_attachments_account_archived_size", table_name="attachments")
    op.drop_table("attachment_size_counts")
