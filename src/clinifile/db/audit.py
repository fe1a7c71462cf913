"""The audit trail's SQL: append one event, read one, read a page. Nothing here updates or
deletes an event, and the database refuses to (migration 0002)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clinifile.db import listing
from clinifile.db.models import AuditEvent
from clinifile.db.types import utcnow
from clinifile.domain.queries import ListQuery


def append(session: Session, **fields: Any) -> AuditEvent:
    event = AuditEvent(created_at=utcnow(), **fields)
    session.add(event)
    session.flush()
    return event


def get(session: Session, account_id: int, event_id: int) -> AuditEvent | None:
    return session.scalars(
        select(AuditEvent).where(AuditEvent.id == event_id, AuditEvent.account_id == account_id)
    ).first()


COLUMNS: dict[str, Any] = {
    "id": AuditEvent.id,
    "action": AuditEvent.action,
    "api_key_id": AuditEvent.api_key_id,
    "user_id": AuditEvent.user_id,
    "patient_id": AuditEvent.patient_id,
    "attachment_id": AuditEvent.attachment_id,
    "ip_address": AuditEvent.ip_address,
    "created_at": AuditEvent.created_at,
}


def page(
    session: Session,
    account_id: int,
    list_query: ListQuery,
) -> tuple[list[AuditEvent], int]:
    query = select(AuditEvent).where(AuditEvent.account_id == account_id)
    return listing.page(session, query, COLUMNS, AuditEvent.id, list_query)
