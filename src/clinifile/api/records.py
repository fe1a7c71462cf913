"""The shapes of answers: the OpenAPI document shows them and presenters build every body
as one of them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class Links(BaseModel):
    self: str


class Linked(BaseModel):
    links: Links


class ScanRecord(BaseModel):
    status: Literal["clean", "infected", "not_scanned"] = Field(
        description="the last malware scan's verdict; not_scanned while processing or when "
        "scanning is off"
    )
    signature: str | None = Field(description="what the scanner found; null unless infected")
    scanned_at: str | None = Field(description="when it was last scanned (rescans update it)")


class AttachmentRecord(BaseModel):
    id: str = Field(description="64-bit id as a string", pattern=r"^[0-9]+$")
    content_type: str | None = Field(
        description="detected from the bytes; null until processed, but for a quarantined file"
    )
    description: str | None
    filename: str | None = Field(
        description="null until processed; a failed or quarantined file's name is shown too"
    )
    size: int | None = Field(description="null until processed, but for a quarantined file")
    checksum_sha256: str | None = Field(
        description="clinifile addition: hex SHA-256 of the stored bytes; null until processed"
    )
    processing_completed: bool = Field(
        description="true only when the file can be opened (Cliniko's meaning)"
    )
    processing_state: Literal["pending", "processing", "completed", "failed", "quarantined"] = (
        Field(description="clinifile addition: where processing is; filterable")
    )
    processing_error: str | None = Field(
        description="clinifile addition: why a failed or quarantined file is not served, as a "
        "sentence a clinic can act on; null otherwise"
    )
    scan: ScanRecord = Field(description="clinifile addition: the malware scan")
    processed_at: str | None
    archived_at: str | None
    pinned_at: str | None = Field(description="Cliniko's: when it was pinned; null unless pinned")
    created_at: str
    updated_at: str
    content: Linked | None = Field(description="the download link; null until processed")
    preview: Linked | None = Field(
        default=None,
        description="clinifile addition: the preview's link (GET it with ?size=small|large); "
        "null until one is made, and for files that get none",
    )
    patient: Linked
    user: Linked
    links: Links


class PatientRecord(BaseModel):
    id: str = Field(pattern=r"^[0-9]+$")
    first_name: str
    last_name: str
    email: str | None
    date_of_birth: str | None
    created_at: str
    updated_at: str
    archived_at: str | None
    patient_attachments: Linked
    links: Links


class UserRecord(BaseModel):
    id: str = Field(pattern=r"^[0-9]+$")
    first_name: str
    last_name: str
    email: str | None
    created_at: str
    updated_at: str
    links: Links


class AuditEventRecord(BaseModel):
    id: str = Field(pattern=r"^[0-9]+$")
    action: str = Field(
        description="patient_attachment.create, .update, .archive, .unarchive, .download, "
        ".preview, .quarantine, "
        ".release (an operator) or .delete (an operator removed a quarantined file)",
        examples=["patient_attachment.download"],
    )
    created_at: str
    ip_address: str | None = Field(description="the caller's address (trusted proxies honoured)")
    user_agent: str | None
    api_key_id: str | None = Field(description="which of the account's keys was used")
    reason: str | None = Field(
        None, description="why: what quarantined a file, the reason an operator released it"
    )
    patient_attachment: Linked | None
    patient: Linked | None
    user: Linked | None
    links: Links


class WebhookEndpointRecord(BaseModel):
    id: str = Field(pattern=r"^[0-9]+$")
    url: str = Field(description="where events are POSTed (http or https, a public address)")
    events: list[str] = Field(examples=[["patient_attachment.processed"]])
    description: str | None
    enabled: bool
    disabled_reason: str | None = Field(
        description="why clinifile disabled it (days of failed deliveries); null otherwise"
    )
    created_at: str
    updated_at: str
    deliveries: Linked = Field(description="its delivery log")
    links: Links


class CreatedWebhookEndpointRecord(WebhookEndpointRecord):
    secret: str = Field(
        description="whsec_...: verifies each delivery's webhook-signature (Standard "
        "Webhooks); shown only in this answer"
    )


class WebhookDeliveryRecord(BaseModel):
    id: str = Field(pattern=r"^[0-9]+$")
    webhook_id: str = Field(description="the webhook-id header: the same on every retry")
    event_type: str = Field(examples=["patient_attachment.processed"])
    state: Literal["pending", "delivering", "delivered", "failed"]
    attempts: int
    status_code: int | None = Field(description="the last attempt's HTTP status, if any")
    error: str | None = Field(description="why the last attempt got no status (timed out...)")
    duration_ms: int | None = Field(description="how long the last attempt took")
    created_at: str
    last_attempt_at: str | None
    next_attempt_at: str | None = Field(description="when it is tried again; null when done")
    delivered_at: str | None
    patient_attachment: Linked
    links: Links


class PatientCaseRecord(BaseModel):
    id: str = Field(pattern=r"^[0-9]+$")
    name: str
    issue_date: str | None = Field(description="YYYY-MM-DD")
    notes: str | None
    patient_attachment_ids: list[str] = Field(
        description="the patient's attachments the case holds (ids as strings)"
    )
    archived_at: str | None
    created_at: str
    updated_at: str
    patient: Linked
    patient_attachments: Linked = Field(description="the list of the case's attachments")
    links: Links


class ListLinks(BaseModel):
    self: str
    next: str | None = Field(None, description="absent on the last page")
    previous: str | None = Field(None, description="absent on the first page")


class AttachmentList(BaseModel):
    patient_attachments: list[AttachmentRecord]
    total_entries: int
    links: ListLinks


class AuditEventList(BaseModel):
    audit_events: list[AuditEventRecord]
    total_entries: int
    links: ListLinks


class PatientList(BaseModel):
    patients: list[PatientRecord]
    total_entries: int
    links: ListLinks


class WebhookEndpointList(BaseModel):
    webhook_endpoints: list[WebhookEndpointRecord]
    total_entries: int
    links: ListLinks


class WebhookDeliveryList(BaseModel):
    webhook_deliveries: list[WebhookDeliveryRecord]
    total_entries: int
    links: ListLinks


class PatientCaseList(BaseModel):
    patient_cases: list[PatientCaseRecord]
    total_entries: int
    links: ListLinks


class PresignedPostRecord(BaseModel):
    url: str = Field(description="the bucket URL, ending in /")
    fields: dict[str, str]
    max_file_size: int = Field(
        description="clinifile: the largest file this server takes, in bytes; the policy's "
        "content-length-range may be lower (the storage the account's plan has left)"
    )


class AccountRecord(BaseModel):
    """clinifile addition: the caller's account and its storage, so a client can show what
    is left before an upload is refused."""

    id: str = Field(pattern=r"^[0-9]+$")
    name: str
    plan: str = Field(description="trial or paid", examples=["trial"])
    storage_limit_bytes: int | None = Field(description="null: the plan has no limit")
    storage_used_bytes: int = Field(
        description="every file stored or being processed, archived ones included"
    )
    storage_remaining_bytes: int | None = Field(description="null: the plan has no limit")
    max_file_size: int = Field(description="the largest file this server takes, in bytes")
    links: Links


class DownloadLink(BaseModel):
    url: str = Field(
        description="a presigned GET of the file, served as an attachment (or inline, when "
        "asked, for PDFs and images)"
    )
    expires_in: int = Field(description="seconds the URL stays valid")


class Message(BaseModel):
    message: str


class ValidationFailedBody(BaseModel):
    message: str = Field(examples=["Validation Failed"])
    errors: dict[str, str]


_DESCRIPTIONS = {
    400: "Malformed request: no User-Agent, bad JSON, bad paging, filter or sort",
    401: "No, unknown, revoked or other-shard API key",
    404: "No such record in this account, or a malformed id",
    409: "The attachment is still being processed, failed, or is quarantined",
    413: "Request body too large",
    422: "Validation failed",
    429: "Rate limit reached; see Retry-After and X-RateLimit-Reset",
    503: "The file store is unavailable",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The error answers of an endpoint: 400, 401, 413 and 429 always, plus statuses."""
    answers: dict[int | str, dict[str, Any]] = {}
    for status in sorted({400, 401, 413, 429, *statuses}):
        model = ValidationFailedBody if status == 422 else Message
        answers[status] = {"model": model, "description": _DESCRIPTIONS[status]}
    return answers


def ok(model: type[BaseModel], description: str, status: int = 200) -> dict[int | str, Any]:
    return {status: {"model": model, "description": description}}
