"""malware scanning: each attachment's last scan and quarantine key; audit events' reason

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from clinifile.db.types import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("attachments") as batch:
        batch.add_column(sa.Column("scan_status", sa.String(16), nullable=True))
        batch.add_column(sa.Column("scan_signature", sa.String(255), nullable=True))
        batch.add_column(sa.Column("scanned_at", UTCDateTime, nullable=True))
        batch.add_column(sa.Column("scan_signature_version", sa.String(64), nullable=True))
        batch.add_column(sa.Column("quarantine_key", sa.String(1200), nullable=True))
    # a new column, not a change of rows: the append-only triggers stay as they are
    op.add_column("audit_events", sa.Column("reason", sa.Text, nullable=True))


def downgrade() -> None:
    # the schema before has no quarantine: a quarantined file there is a failed one (its
    # bytes stay at its quarantine key, uncounted)
    op.execute(
        "UPDATE accounts SET storage_used_bytes = storage_used_bytes - "
        "(SELECT COALESCE(SUM(reserved_bytes), 0) FROM attachments "
        "WHERE attachments.account_id = accounts.id AND attachments.state = 'quarantined')"
    )
    op.execute(
        "UPDATE attachments SET state = 'failed', reserved_bytes = 0 WHERE state = 'quarantined'"
    )
    # not a batch (SQLite would copy the table and lose its append-only triggers)
    op.execute("ALTER TABLE audit_events DROP COLUMN reason")
    with op.batch_alter_table("attachments") as batch:
        batch.drop_column("quarantine_key")
        batch.drop_column("scan_signature_version")
        batch.drop_column("scanned_at")
        batch.drop_column("scan_signature")
        batch.drop_column("scan_status")
