"""attachments.checksum_sha256; the append-only audit_events table

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from clinifile.db.types import BigId, UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_REFUSE = "audit_events is append-only"


def upgrade() -> None:
    op.add_column("attachments", sa.Column("checksum_sha256", sa.String(64), nullable=True))
    op.create_table(
        "audit_events",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("account_id", BigId, sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("api_key_id", BigId, sa.ForeignKey("api_keys.id"), nullable=True),
        sa.Column("user_id", BigId, sa.ForeignKey("users.id"), nullable=True),
        sa.Column("patient_id", BigId, nullable=True),
        sa.Column("attachment_id", BigId, nullable=True),
        sa.Column("ip_address", sa.String(64), nullable=True),
        sa.Column("user_agent", sa.String(255), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_audit_events_account_id", "audit_events", ["account_id", "id"])
    op.create_index(
        "ix_audit_events_account_attachment", "audit_events", ["account_id", "attachment_id"]
    )
    op.create_index("ix_audit_events_account_created", "audit_events", ["account_id", "created_at"])
    # append-only in the database itself, not only in the code that writes it
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION clinifile_audit_append_only() RETURNS trigger AS $$ "
            f"BEGIN RAISE EXCEPTION '{_REFUSE}'; END $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
            "FOR EACH ROW EXECUTE FUNCTION clinifile_audit_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
            "FOR EACH STATEMENT EXECUTE FUNCTION clinifile_audit_append_only()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_events_no_{event.lower()} BEFORE {event} ON audit_events "
                f"BEGIN SELECT RAISE(ABORT, '{_REFUSE}'); END"
            )


def downgrade() -> None:
    op.drop_table("audit_events")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION clinifile_audit_append_only()")
    with op.batch_alter_table("attachments") as batch:
        batch.drop_column("checksum_sha256")
