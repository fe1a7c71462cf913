"""users get Cliniko's first_name, last_name, email and updated_at (name goes: first_name
takes it); attachments.pinned_at; patient cases; webhook endpoints, the outbox of events and
their deliveries

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from clinifile.db.types import BigId, UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("first_name", sa.String(255), nullable=False, server_default=""))
        batch.add_column(sa.Column("last_name", sa.String(255), nullable=False, server_default=""))
        batch.add_column(sa.Column("email", sa.String(255), nullable=True))
        batch.add_column(sa.Column("updated_at", UTCDateTime, nullable=True))
    op.execute("UPDATE users SET first_name = name, updated_at = created_at")
    with op.batch_alter_table("users") as batch:
        batch.alter_column("updated_at", existing_type=UTCDateTime, nullable=False)
        batch.drop_column("name")

    with op.batch_alter_table("attachments") as batch:
        batch.add_column(sa.Column("pinned_at", UTCDateTime, nullable=True))
    # lists are ordered by created_at, then id, unless a sort is asked for (Cliniko's order)
    op.create_index(
        "ix_patients_account_archived_created",
        "patients",
        ["account_id", "archived_at", "created_at"],
    )

    op.create_table(
        "patient_cases",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("account_id", BigId, sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("patient_id", BigId, sa.ForeignKey("patients.id"), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("issue_date", sa.Date, nullable=True),
        sa.Column("notes", sa.Text, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("archived_at", UTCDateTime, nullable=True),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_patient_cases_account_archived_created",
        "patient_cases",
        ["account_id", "archived_at", "created_at"],
    )
    op.create_index(
        "ix_patient_cases_patient_archived_created",
        "patient_cases",
        ["patient_id", "archived_at", "created_at"],
    )
    op.create_table(
        "patient_case_attachments",
        sa.Column("case_id", BigId, sa.ForeignKey("patient_cases.id"), primary_key=True),
        sa.Column("attachment_id", BigId, sa.ForeignKey("attachments.id"), primary_key=True),
    )
    op.create_index(
        "ix_patient_case_attachments_attachment_id", "patient_case_attachments", ["attachment_id"]
    )

    op.create_table(
        "webhook_endpoints",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("account_id", BigId, sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("events", sa.Text, nullable=False),
        sa.Column("description", sa.String(255), nullable=True),
        sa.Column("secret", sa.String(128), nullable=False),
        sa.Column("api_base_url", sa.String(2048), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("disabled_reason", sa.Text, nullable=True),
        sa.Column("failing_since", UTCDateTime, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_webhook_endpoints_account_id", "webhook_endpoints", ["account_id"])
    op.create_table(
        "webhook_events",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("account_id", BigId, sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("attachment_id", BigId, nullable=False),
        sa.Column("snapshot", sa.Text, nullable=False),
        sa.Column("occurred_at", UTCDateTime, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_webhook_events_account_id", "webhook_events", ["account_id", "id"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("account_id", BigId, sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("endpoint_id", BigId, sa.ForeignKey("webhook_endpoints.id"), nullable=False),
        sa.Column("event_id", BigId, sa.ForeignKey("webhook_events.id"), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", UTCDateTime, nullable=False),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_expires_at", UTCDateTime, nullable=True),
        sa.Column("last_attempt_at", UTCDateTime, nullable=True),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("duration_ms", sa.Integer, nullable=True),
        sa.Column("delivered_at", UTCDateTime, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_webhook_deliveries_state_next_attempt_at",
        "webhook_deliveries",
        ["state", "next_attempt_at"],
    )
    op.create_index(
        "ix_webhook_deliveries_endpoint_created",
        "webhook_deliveries",
        ["endpoint_id", "created_at"],
    )


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_events")
    op.drop_table("webhook_endpoints")
    op.drop_table("patient_case_attachments")
    op.drop_table("patient_cases")
    op.drop_index("ix_patients_account_archived_created", "patients")
    with op.batch_alter_table("attachments") as batch:
        batch.drop_column("pinned_at")
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("name", sa.String(255), nullable=False, server_default=""))
    op.execute("UPDATE users SET name = first_name || ' ' || last_name")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("updated_at")
        batch.drop_column("email")
        batch.drop_column("last_name")
        batch.drop_column("first_name")
