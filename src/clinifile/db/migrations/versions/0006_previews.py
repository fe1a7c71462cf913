"""the worker's previews of completed files (filled by issue 16's work)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from clinifile.db.types import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # preview_state: null (none made yet), "ready" (small.webp and large.webp stored under
    # preview_prefix) or "none" (this file gets none: preview_reason says why)
    with op.batch_alter_table("attachments") as batch:
        batch.add_column(sa.Column("preview_state", sa.String(16), nullable=True))
        batch.add_column(sa.Column("preview_reason", sa.Text, nullable=True))
        batch.add_column(sa.Column("preview_prefix", sa.String(1200), nullable=True))
        batch.add_column(sa.Column("previewed_at", UTCDateTime, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("attachments") as batch:
        batch.drop_column("previewed_at")
        batch.drop_column("preview_prefix")
        batch.drop_column("preview_reason")
        batch.drop_column("preview_state")
