"""resumable multipart uploads (filled by issue 17's work)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from clinifile.db.types import BigId, UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # one row per multipart upload a client opened: the store's upload id stays here (the
    # client knows only the row's id); state "open", "completing", "completed" or "aborted"
    op.create_table(
        "multipart_uploads",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("account_id", BigId, sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("patient_id", BigId, sa.ForeignKey("patients.id"), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("object_key", sa.String(1200), nullable=False),
        sa.Column("store_upload_id", sa.String(1024), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("part_size", sa.BigInteger, nullable=False),
        sa.Column("content_type", sa.String(255), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("etag", sa.String(255), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("ended_at", UTCDateTime, nullable=True),
        sqlite_autoincrement=True,
    )
    # the sweep's question: open uploads past their expiry
    op.create_index(
        "ix_multipart_uploads_state_expires", "multipart_uploads", ["state", "expires_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_multipart_uploads_state_expires", table_name="multipart_uploads")
    op.drop_table("multipart_uploads")
