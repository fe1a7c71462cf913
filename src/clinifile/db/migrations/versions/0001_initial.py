"""accounts, users, api keys, patients, attachments

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from clinifile.db.types import BigId, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("plan", sa.String(16), nullable=False),
        sa.Column("storage_limit_bytes", sa.BigInteger, nullable=True),
        sa.Column("storage_used_bytes", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.CheckConstraint("storage_used_bytes >= 0", name="ck_accounts_storage_used_nonneg"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "users",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("account_id", BigId, sa.ForeignKey("accounts.id"), nullable=False, index=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "api_keys",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("account_id", BigId, sa.ForeignKey("accounts.id"), nullable=False, index=True),
        sa.Column("user_id", BigId, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("revoked_at", UTCDateTime, nullable=True),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "patients",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("account_id", BigId, sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("first_name", sa.String(255), nullable=False),
        sa.Column("last_name", sa.String(255), nullable=False),
        sa.Column("email", sa.String(255), nullable=True),
        sa.Column("date_of_birth", sa.Date, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("archived_at", UTCDateTime, nullable=True),
        sqlite_autoincrement=True,
    )
    # lists: one account's (or patient's) unarchived records in id order, and their count,
    # straight from the index
    op.create_index(
        "ix_patients_account_archived_id", "patients", ["account_id", "archived_at", "id"]
    )
    op.create_table(
        "attachments",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("account_id", BigId, sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("patient_id", BigId, sa.ForeignKey("patients.id"), nullable=False),
        sa.Column("user_id", BigId, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("description", sa.String(255), nullable=True),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("temp_key", sa.String(1024), nullable=False, unique=True),
        sa.Column("permanent_key", sa.String(1200), nullable=True),
        sa.Column("filename", sa.String(255), nullable=True),
        sa.Column("content_type", sa.String(255), nullable=True),
        sa.Column("size", sa.BigInteger, nullable=True),
        sa.Column("reserved_bytes", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", UTCDateTime, nullable=False),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_expires_at", UTCDateTime, nullable=True),
        sa.Column("failure_reason", sa.Text, nullable=True),
        sa.Column("processed_at", UTCDateTime, nullable=True),
        sa.Column("archived_at", UTCDateTime, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_attachments_account_archived_id", "attachments", ["account_id", "archived_at", "id"]
    )
    op.create_index(
        "ix_attachments_patient_archived_id", "attachments", ["patient_id", "archived_at", "id"]
    )
    op.create_index(
        "ix_attachments_account_archived_created",
        "attachments",
        ["account_id", "archived_at", "created_at"],
    )
    op.create_index(
        "ix_attachments_state_next_attempt_at", "attachments", ["state", "next_attempt_at"]
    )


def downgrade() -> None:
    op.drop_table("attachments")
    op.drop_table("patients")
    op.drop_table("api_keys")
    op.drop_table("users")
    op.drop_table("accounts")
