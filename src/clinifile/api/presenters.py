"""Records as API.md shows them: ids as strings, UTC times with Z, absolute links.

Each body is built as its model in api/records.py, so the shape the OpenAPI document
describes is the shape sent: a field missing or misspelt here fails mypy and validation.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Request

from clinifile.api.records import (
    AccountRecord,
    AttachmentRecord,
    AuditEventRecord,
    CreatedWebhookEndpointRecord,
    DownloadLink,
    Linked,
    Links,
    ListLinks,
    PatientCaseRecord,
    PatientRecord,
    PresignedPostRecord,
    ScanRecord,
    UserRecord,
    WebhookDeliveryRecord,
    WebhookEndpointRecord,
)
from clinifile.db.models import (
    Attachment,
    AuditEvent,
    Patient,
    PatientCase,
    User,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from clinifile.db.webhook_deliveries import DeliveryState
from clinifile.domain.queries import ListQuery
from clinifile.domain.states import AttachmentState, ScanStatus
from clinifile.services.accounts import StorageFigures
from clinifile.storage.base import PresignedPost


def base_url(request: Request) -> str:
    """The URL the client called, without a trailing slash (proxy headers honoured by
    uvicorn's --forwarded-allow-ips)."""
    return str(request.base_url).rstrip("/")


def iso(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _linked(url: str) -> Linked:
    return Linked(links=Links(self=url))


# the states whose failure_reason a clinic is shown (a pending one's is a retry's, internal)
_SHOWN_ERRORS = {AttachmentState.FAILED, AttachmentState.QUARANTINED}


def scan(record: Attachment) -> ScanRecord:
    status = ScanStatus(record.scan_status or ScanStatus.NOT_SCANNED)
    return ScanRecord(
        status=status.value,
        signature=record.scan_signature if status == ScanStatus.INFECTED else None,
        scanned_at=iso(record.scanned_at),
    )


def attachment(request: Request, record: Attachment) -> dict[str, Any]:
    return attachment_at(base_url(request), record)


def attachment_at(base: str, record: Attachment) -> dict[str, Any]:
    """The record with its links under base: what GET shows, and a webhook's data."""
    completed = record.state == AttachmentState.COMPLETED
    quarantined = record.state == AttachmentState.QUARANTINED
    self_url = f"{base}/v1/patient_attachments/{record.id}"
    return AttachmentRecord(
        id=str(record.id),
        content_type=record.content_type if completed or quarantined else None,
        description=record.description,
        # a failed or quarantined file's name too, and a quarantined one's detected type and
        # counted size: how a clinic tells which upload it was
        filename=record.filename if completed or record.state in _SHOWN_ERRORS else None,
        size=record.size if completed or quarantined else None,
        checksum_sha256=record.checksum_sha256 if completed else None,
        processing_completed=completed,
        processing_state=AttachmentState(record.state).value,
        processing_error=record.failure_reason if record.state in _SHOWN_ERRORS else None,
        scan=scan(record),
        processed_at=iso(record.processed_at) if completed else None,
        archived_at=iso(record.archived_at),
        pinned_at=iso(record.pinned_at),
        created_at=_iso(record.created_at),
        updated_at=_iso(record.updated_at),
        content=_linked(f"{self_url}/content") if completed else None,
        preview=_linked(f"{self_url}/preview")
        if completed and record.preview_state == "ready"
        else None,
        patient=_linked(f"{base}/v1/patients/{record.patient_id}"),
        user=_linked(f"{base}/v1/users/{record.user_id}"),
        links=Links(self=self_url),
    ).model_dump()


def patient(request: Request, record: Patient) -> dict[str, Any]:
    base = base_url(request)
    self_url = f"{base}/v1/patients/{record.id}"
    return PatientRecord(
        id=str(record.id),
        first_name=record.first_name,
        last_name=record.last_name,
        email=record.email,
        date_of_birth=record.date_of_birth.isoformat() if record.date_of_birth else None,
        created_at=_iso(record.created_at),
        updated_at=_iso(record.updated_at),
        archived_at=iso(record.archived_at),
        patient_attachments=_linked(f"{self_url}/patient_attachments"),
        links=Links(self=self_url),
    ).model_dump()


def user(request: Request, record: User) -> dict[str, Any]:
    return UserRecord(
        id=str(record.id),
        first_name=record.first_name,
        last_name=record.last_name,
        email=record.email,
        created_at=_iso(record.created_at),
        updated_at=_iso(record.updated_at),
        links=Links(self=f"{base_url(request)}/v1/users/{record.id}"),
    ).model_dump()


def audit_event(request: Request, record: AuditEvent) -> dict[str, Any]:
    base = base_url(request)
    attachment_url = f"{base}/v1/patient_attachments/{record.attachment_id}"
    return AuditEventRecord(
        id=str(record.id),
        action=record.action,
        created_at=_iso(record.created_at),
        ip_address=record.ip_address,
        user_agent=record.user_agent,
        api_key_id=str(record.api_key_id) if record.api_key_id else None,
        reason=record.reason,
        patient_attachment=_linked(attachment_url) if record.attachment_id else None,
        patient=_linked(f"{base}/v1/patients/{record.patient_id}") if record.patient_id else None,
        user=_linked(f"{base}/v1/users/{record.user_id}") if record.user_id else None,
        links=Links(self=f"{base}/v1/audit_events/{record.id}"),
    ).model_dump()


def webhook_endpoint(
    request: Request, record: WebhookEndpoint, secret: str | None = None
) -> dict[str, Any]:
    """The endpoint; with secret (only when it was just created) the secret too."""
    self_url = f"{base_url(request)}/v1/webhook_endpoints/{record.id}"
    shown = WebhookEndpointRecord(
        id=str(record.id),
        url=record.url,
        events=record.events.split(),
        description=record.description,
        enabled=record.enabled,
        disabled_reason=record.disabled_reason,
        created_at=_iso(record.created_at),
        updated_at=_iso(record.updated_at),
        deliveries=_linked(f"{self_url}/deliveries"),
        links=Links(self=self_url),
    ).model_dump()
    if secret is None:
        return shown
    return CreatedWebhookEndpointRecord(**shown, secret=secret).model_dump()


def webhook_delivery(
    request: Request, record: WebhookDelivery, event: WebhookEvent
) -> dict[str, Any]:
    base = base_url(request)
    state = DeliveryState(record.state)
    waiting = state in (DeliveryState.PENDING, DeliveryState.DELIVERING)
    return WebhookDeliveryRecord(
        id=str(record.id),
        webhook_id=f"msg_{event.id}",
        event_type=event.type,
        state=state.value,
        attempts=record.attempts,
        status_code=record.status_code,
        error=record.error,
        duration_ms=record.duration_ms,
        created_at=_iso(record.created_at),
        last_attempt_at=iso(record.last_attempt_at),
        next_attempt_at=iso(record.next_attempt_at) if waiting else None,
        delivered_at=iso(record.delivered_at),
        patient_attachment=_linked(f"{base}/v1/patient_attachments/{event.attachment_id}"),
        links=Links(
            self=f"{base}/v1/webhook_endpoints/{record.endpoint_id}/deliveries/{record.id}"
        ),
    ).model_dump()


def patient_case(
    request: Request, record: PatientCase, attachment_ids: list[int]
) -> dict[str, Any]:
    base = base_url(request)
    self_url = f"{base}/v1/patient_cases/{record.id}"
    return PatientCaseRecord(
        id=str(record.id),
        name=record.name,
        issue_date=record.issue_date.isoformat() if record.issue_date else None,
        notes=record.notes,
        patient_attachment_ids=[str(i) for i in attachment_ids],
        archived_at=iso(record.archived_at),
        created_at=_iso(record.created_at),
        updated_at=_iso(record.updated_at),
        patient=_linked(f"{base}/v1/patients/{record.patient_id}"),
        patient_attachments=_linked(f"{self_url}/patient_attachments"),
        links=Links(self=self_url),
    ).model_dump()


def presigned_post(post: PresignedPost, max_file_size: int) -> dict[str, Any]:
    return PresignedPostRecord(
        url=post.url, fields=post.fields, max_file_size=max_file_size
    ).model_dump()


def account(request: Request, figures: StorageFigures) -> dict[str, Any]:
    record = figures.account
    return AccountRecord(
        id=str(record.id),
        name=record.name,
        plan=record.plan,
        storage_limit_bytes=record.storage_limit_bytes,
        storage_used_bytes=record.storage_used_bytes,
        storage_remaining_bytes=figures.remaining_bytes,
        max_file_size=figures.max_file_size_bytes,
        links=Links(self=f"{base_url(request)}/v1/account"),
    ).model_dump()


def download_link(url: str, expires_in: int) -> dict[str, Any]:
    return DownloadLink(url=url, expires_in=expires_in).model_dump()


def page(
    request: Request, plural: str, records: list[dict[str, Any]], total: int, query: ListQuery
) -> dict[str, Any]:
    """The list body; links keep every filter and the sort, absolute, from the request."""
    url = request.url

    def at(number: int) -> str:
        return str(url.include_query_params(page=number, per_page=query.per_page))

    links = ListLinks(
        self=str(url),
        next=at(query.page + 1) if query.page * query.per_page < total else None,
        previous=at(query.page - 1) if query.page > 1 else None,
    )
    # next and previous are left out, not null, where there is no such page
    return {plural: records, "total_entries": total, "links": links.model_dump(exclude_none=True)}
