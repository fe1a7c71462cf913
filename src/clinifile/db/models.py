"""SQLAlchemy models. The schema itself is owned by the Alembic migrations."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from clinifile.db.types import BigId, UTCDateTime, utcnow
from clinifile.domain.states import AttachmentState


class Base(DeclarativeBase):
    """Ids are never reused, on SQLite too (AUTOINCREMENT)."""


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255))
    region: Mapped[str] = mapped_column(String(32))
    plan: Mapped[str] = mapped_column(String(16))
    # None: no limit
    storage_limit_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # changed only by conditional updates in db.accounts, in the transaction that
    # reserves or frees the bytes
    storage_used_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    first_name: Mapped[str] = mapped_column(String(255))
    last_name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # SHA-256 of the whole key; the key itself is never stored
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Patient(Base):
    __tablename__ = "patients"
    __table_args__ = (
        Index("ix_patients_account_archived_id", "account_id", "archived_at", "id"),
        # the default order of the list (created_at, then id)
        Index("ix_patients_account_archived_created", "account_id", "archived_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    first_name: Mapped[str] = mapped_column(String(255))
    last_name: Mapped[str] = mapped_column(String(255))
    # the names folded for search (domain/search.py), written with them: `~` compares these
    first_name_search: Mapped[str] = mapped_column(Text, default="")
    last_name_search: Mapped[str] = mapped_column(Text, default="")
    email: Mapped[str | None] = mapped_column(String(255), nullable=True)
    date_of_birth: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


# partial indexes of the rows the lists show by default: PostgreSQL does not take
# `archived_at IS NULL` as fixing archived_at, so an index that leads with it cannot give
# the created_at order; one that holds only those rows can
LIVE: dict[str, Any] = {
    "postgresql_where": text("archived_at IS NULL"),
    "sqlite_where": text("archived_at IS NULL"),
}

ARCHIVED: dict[str, Any] = {
    "postgresql_where": text("archived_at IS NOT NULL"),
    "sqlite_where": text("archived_at IS NOT NULL"),
}


class Attachment(Base):
    """A patient attachment, and the processing job that finishes it."""

    __tablename__ = "attachments"
    __table_args__ = (
        Index("ix_attachments_account_archived_id", "account_id", "archived_at", "id"),
        Index("ix_attachments_patient_archived_id", "patient_id", "archived_at", "id"),
        # of the live (unarchived) attachments, in the lists' default order (created_at, then
        # id), the account's and a patient's; and by size (the size filter, its count)
        Index("ix_attachments_account_live_created", "account_id", "created_at", "id", **LIVE),
        Index("ix_attachments_patient_live_created", "patient_id", "created_at", "id", **LIVE),
        Index("ix_attachments_account_live_size", "account_id", "size", **LIVE),
        # the archived rows by size: the slices of size bands a list of them counts
        Index("ix_attachments_account_archived_size", "account_id", "size", **ARCHIVED),
        Index("ix_attachments_state_next_attempt_at", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    description: Mapped[str | None] = mapped_column(String(255), nullable=True)
    region: Mapped[str] = mapped_column(String(32))
    # the uploaded object; unique: one upload backs one attachment
    temp_key: Mapped[str] = mapped_column(String(1024), unique=True)
    permanent_key: Mapped[str | None] = mapped_column(String(1200), nullable=True)
    filename: Mapped[str | None] = mapped_column(String(255), nullable=True)
    content_type: Mapped[str | None] = mapped_column(String(255), nullable=True)
    size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # hex SHA-256 of the stored bytes, computed by the worker as it reads the upload
    checksum_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # bytes counted against the account's storage for this attachment
    reserved_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    # the request that registered it (X-Request-ID or made): the worker logs under it
    request_id: Mapped[str | None] = mapped_column(String(128), nullable=True)

    state: Mapped[AttachmentState] = mapped_column(String(16), default=AttachmentState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)

    # the last scan: ScanStatus (None: never scanned), the signature found, when, and the
    # engine and signature versions of the clamd that scanned it ("ClamAV 1.4.6/27065")
    scan_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    scan_signature: Mapped[str | None] = mapped_column(String(255), nullable=True)
    scanned_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    scan_signature_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # where a quarantined file's bytes are (services.object_keys.quarantine_key)
    quarantine_key: Mapped[str | None] = mapped_column(String(1200), nullable=True)

    # previews (clinifile.previews): None (none made yet), "ready" (small.webp and large.webp
    # under preview_prefix) or "none" (preview_reason says why)
    preview_state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    preview_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    preview_prefix: Mapped[str | None] = mapped_column(String(1200), nullable=True)
    previewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Cliniko's: when it was pinned (null: not pinned)
    pinned_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AttachmentCount(Base):
    """How many attachments an account (patient_id 0) and each of its patients hold, live
    and archived: changed in the transactions that insert and archive them (db.counts), read
    for the lists' total_entries."""

    __tablename__ = "attachment_counts"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    patient_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    live: Mapped[int] = mapped_column(BigInteger, default=0)
    archived: Mapped[int] = mapped_column(BigInteger, default=0)


class AttachmentSizeCount(Base):
    """How many attachments of an account have a size in the band starting at size_from,
    live and archived (in STRIPES rows: those whose id % STRIPES is stripe): changed where
    a size is set and where archiving moves one (db.size_counts), read for the
    total_entries of lists filtered by size."""

    __tablename__ = "attachment_size_counts"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    size_from: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    stripe: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    live: Mapped[int] = mapped_column(BigInteger, default=0)
    archived: Mapped[int] = mapped_column(BigInteger, default=0)


class AuditEvent(Base):
    """Who did what to which attachment, when, from where. Append-only: the database
    refuses UPDATE and DELETE on this table (triggers in migration 0002)."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_account_id", "account_id", "id"),
        Index("ix_audit_events_account_attachment", "account_id", "attachment_id"),
        Index("ix_audit_events_account_created", "account_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    action: Mapped[str] = mapped_column(String(64))
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"), nullable=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    patient_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    attachment_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    ip_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # why: the signature or type that quarantined a file, an operator's reason to release it
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PatientCase(Base):
    """Cliniko's patient case, the part that groups a patient's attachments."""

    __tablename__ = "patient_cases"
    __table_args__ = (
        Index(
            "ix_patient_cases_account_archived_created", "account_id", "archived_at", "created_at"
        ),
        Index(
            "ix_patient_cases_patient_archived_created", "patient_id", "archived_at", "created_at"
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    name: Mapped[str] = mapped_column(String(255))
    issue_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    notes: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class PatientCaseAttachment(Base):
    """Which attachments a case holds (each of the case's patient and account)."""

    __tablename__ = "patient_case_attachments"

    case_id: Mapped[int] = mapped_column(ForeignKey("patient_cases.id"), primary_key=True)
    attachment_id: Mapped[int] = mapped_column(
        ForeignKey("attachments.id"), primary_key=True, index=True
    )


class WebhookEndpoint(Base):
    """Where an account wants its events sent, and how that is going."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    # event types, space-separated ("patient_attachment.processed patient_attachment.failed")
    events: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # whsec_<base64>: signs every delivery; shown once, when the endpoint is created
    secret: Mapped[str] = mapped_column(String(128))
    # the API's URL as the endpoint's creator called it: the links in its payloads
    api_base_url: Mapped[str] = mapped_column(String(2048))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # why it was disabled (by clinifile after days of failures, or null: by the account)
    disabled_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # the first failure since its last success (null: its last delivery succeeded)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookEvent(Base):
    """The outbox: one event, written in the transaction of the change it reports."""

    __tablename__ = "webhook_events"
    __table_args__ = (Index("ix_webhook_events_account_id", "account_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    type: Mapped[str] = mapped_column(String(64))
    attachment_id: Mapped[int] = mapped_column(BigId)
    # the attachment's columns as that transaction left them (JSON): the payload's data
    snapshot: Mapped[str] = mapped_column(Text)
    # when the change happened, to the microsecond (the payload's timestamp)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WebhookDelivery(Base):
    """One event to one endpoint: a job of the delivery queue, and its log."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_state_next_attempt_at", "state", "next_attempt_at"),
        Index("ix_webhook_deliveries_endpoint_created", "endpoint_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id"))
    event_id: Mapped[int] = mapped_column(ForeignKey("webhook_events.id"))
    # DeliveryState: pending, delivering (leased), delivered, failed
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # the last attempt: when, the receiver's status code or why there was none, how long
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    duration_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MultipartUpload(Base):
    """A multipart upload a client opened (issue 17; db.multipart_uploads): the store's
    upload id stays on the server. state: open, completing, completed or aborted."""

    __tablename__ = "multipart_uploads"
    __table_args__ = (
        Index("ix_multipart_uploads_state_expires", "state", "expires_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    region: Mapped[str] = mapped_column(String(32))
    object_key: Mapped[str] = mapped_column(String(1200))
    store_upload_id: Mapped[str] = mapped_column(String(1024))
    size: Mapped[int] = mapped_column(BigInteger)
    part_size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str | None] = mapped_column(String(255), nullable=True)
    state: Mapped[str] = mapped_column(String(16))
    etag: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
