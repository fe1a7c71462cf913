"""attachment_counts: how many attachments each account and each of its patients hold (live
and archived), counted from the existing rows; partial indexes of the live rows for the lists'
default order and the size filter

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from clinifile.db.types import BigId

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# one row per patient holding attachments, and one per account under patient_id 0 (its total)
_BACKFILL = (
    "INSERT INTO attachment_counts (account_id, patient_id, live, archived) "
    "SELECT account_id, {patient}, "
    "SUM(CASE WHEN archived_at IS NULL THEN 1 ELSE 0 END), "
    "SUM(CASE WHEN archived_at IS NULL THEN 0 ELSE 1 END) "
    "FROM attachments GROUP BY account_id{group}"
)
_LIVE = sa.text("archived_at IS NULL")
_LIVE_INDEXES = (
    ("ix_attachments_account_live_created", ["account_id", "created_at", "id"]),
    ("ix_attachments_patient_live_created", ["patient_id", "created_at", "id"]),
    ("ix_attachments_account_live_size", ["account_id", "size"]),
)


def upgrade() -> None:
    op.create_table(
        "attachment_counts",
        sa.Column("account_id", BigId, sa.ForeignKey("accounts.id"), primary_key=True),
        sa.Column("patient_id", BigId, primary_key=True, autoincrement=False),
        sa.Column("live", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("archived", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.execute(_BACKFILL.format(patient="patient_id", group=", patient_id"))
    op.execute(_BACKFILL.format(patient="0", group=""))
    # partial indexes of the live (unarchived) rows, which the lists show by default, in
    # their default order (created_at, then id) for the account and for a patient, and by
    # size. PostgreSQL does not take `archived_at IS NULL` as fixing archived_at, so an index
    # that leads with archived_at cannot give the created_at order; these can.
    op.drop_index("ix_attachments_account_archived_created", table_name="attachments")
    for name, columns in _LIVE_INDEXES:
        op.create_index(name, "attachments", columns, postgresql_where=_LIVE, sqlite_where=_LIVE)


def downgrade() -> None:
    for name, _ in _LIVE_INDEXES:
        op.drop_index(name, table_name="attachments")
    op.create_index(
        "ix_attachments_account_archived_created",
        "attachments",
        ["account_id", "archived_at", "created_at"],
    )
    op.drop_table("attachment_counts")
