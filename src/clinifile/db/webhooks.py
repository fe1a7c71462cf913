"""Webhook endpoints and the outbox of events: all their SQL. The deliveries (the queue)
are db.webhook_deliveries'."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from clinifile.db import listing
from clinifile.db.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from clinifile.db.types import rowcount, utcnow
from clinifile.domain.queries import ListQuery


def create_endpoint(session: Session, **fields: Any) -> WebhookEndpoint:
    now = utcnow()
    endpoint = WebhookEndpoint(enabled=True, created_at=now, updated_at=now, **fields)
    session.add(endpoint)
    session.flush()
    return endpoint


def get_endpoint(session: Session, account_id: int, endpoint_id: int) -> WebhookEndpoint | None:
    """The endpoint of this account, or None."""
    return session.scalars(
        select(WebhookEndpoint).where(
            WebhookEndpoint.id == endpoint_id, WebhookEndpoint.account_id == account_id
        )
    ).first()


ENDPOINT_COLUMNS: dict[str, Any] = {
    "id": WebhookEndpoint.id,
    "url": WebhookEndpoint.url,
    "description": WebhookEndpoint.description,
    "enabled": WebhookEndpoint.enabled,
    "created_at": WebhookEndpoint.created_at,
    "updated_at": WebhookEndpoint.updated_at,
}


def page_endpoints(
    session: Session, account_id: int, list_query: ListQuery
) -> tuple[list[WebhookEndpoint], int]:
    query = select(WebhookEndpoint).where(WebhookEndpoint.account_id == account_id)
    return listing.page(session, query, ENDPOINT_COLUMNS, WebhookEndpoint.id, list_query)


def update_endpoint(session: Session, endpoint: WebhookEndpoint, **fields: Any) -> None:
    for name, value in fields.items():
        setattr(endpoint, name, value)
    endpoint.updated_at = utcnow()
    session.flush()


def delete_endpoint(session: Session, endpoint: WebhookEndpoint) -> None:
    """Removes the endpoint and its delivery log; deliveries in flight end quietly."""
    session.execute(delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id))
    session.delete(endpoint)
    session.flush()


_SUBSCRIBED = select(WebhookEndpoint.id, WebhookEndpoint.events).where(
    WebhookEndpoint.account_id == bindparam("account_id"), WebhookEndpoint.enabled.is_(True)
)


def subscribed(session: Session, account_id: int, event_type: str) -> list[int]:
    """Ids of the account's enabled endpoints that take event_type, as committed or flushed
    (every completion asks: one statement built once, run on the session's connection
    without the ORM's execution, about 0.1 ms of CPU less)."""
    rows = session.connection().execute(_SUBSCRIBED, {"account_id": account_id})
    return [endpoint_id for endpoint_id, events in rows if event_type in events.split()]


def append_event(
    session: Session,
    *,
    account_id: int,
    event_type: str,
    attachment_id: int,
    snapshot: str,
    occurred_at: datetime,
) -> WebhookEvent:
    event = WebhookEvent(
        account_id=account_id,
        type=event_type,
        attachment_id=attachment_id,
        snapshot=snapshot,
        occurred_at=occurred_at,
    )
    session.add(event)
    session.flush()
    return event


def get_event(session: Session, event_id: int) -> WebhookEvent | None:
    return session.get(WebhookEvent, event_id)


def record_success(session: Session, endpoint_id: int) -> None:
    """The endpoint took a delivery: it is no longer failing."""
    session.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.failing_since.is_not(None))
        .values(failing_since=None)
        .execution_options(synchronize_session=False)
    )


def record_failure(session: Session, endpoint_id: int, now: datetime) -> datetime | None:
    """Notes a failed delivery; returns since when the endpoint has been failing (None if
    it is gone)."""
    session.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.failing_since.is_(None))
        .values(failing_since=now)
        .execution_options(synchronize_session=False)
    )
    return session.scalar(
        select(WebhookEndpoint.failing_since).where(WebhookEndpoint.id == endpoint_id)
    )


def disable(session: Session, endpoint_id: int, reason: str) -> bool:
    """Disables an enabled endpoint with the reason on its record; False if it was not."""
    result = session.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.enabled.is_(True))
        .values(enabled=False, disabled_reason=reason, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return rowcount(result) == 1
