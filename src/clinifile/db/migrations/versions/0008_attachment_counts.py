"""attachment_counts: how many attachments each account and each of its patients hold (live
and archived), counted from the existing rows; indexes for the lists' default order and the
size filter

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
    # the default order (created_at, then id) of the account's list and a patient's, read
    # in order from the index (PostgreSQL's indexes hold no id unless named)
    op.drop_index("ix_attachments_account_archived_created", table_name="attachments")
    op.create_index(
        "ix_attachments_account_archived_created_id",
        "attachments",
        ["account_id", "archived_at", "created_at", "id"],
    )
    op.create_index(
        "ix_attachments_patient_archived_created_id",
        "attachments",
        ["patient_id", "archived_at", "created_at", "id"],
    )
    # the size filter, and its count from the index alone
    op.create_index(
        "ix_attachments_account_archived_size", "attachments", ["account_id", "archived_at", "size"]
    )


def downgrade() -> None:
    op.drop_index("ix_attachments_account_archived_size", table_name="attachments")
    op.drop_index("ix_attachments_patient_archived_created_id", table_name="attachments")
    op.drop_index("ix_attachments_account_archived_created_id", table_name="attachments")
    op.create_index(
        "ix_attachments_account_archived_created",
        "attachments",
        ["account_id", "archived_at", "created_at"],
    )
    op.drop_table("attachment_counts")
