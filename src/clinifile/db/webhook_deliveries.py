"""Webhook deliveries: one event to one endpoint, a job of the delivery queue and a line of
the endpoint's delivery log. All their SQL; every state change is a compare-and-set UPDATE
that names the lease it expects.

    pending ──claim──▶ delivering ──2xx──▶ delivered
       ▲                   │
       └──retry (backoff)──┤
                           └──▶ failed (retried for webhook_retry_seconds, then given up)

A redelivery is a new delivery of the same event (the same webhook-id), with a retry window
of its own (counted from its created_at).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from clinifile.db import listing
from clinifile.db.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from clinifile.db.types import rowcount, utcnow
from clinifile.domain.queries import ListQuery


class DeliveryState(StrEnum):
    PENDING = "pending"  # due at next_attempt_at
    DELIVERING = "delivering"  # leased by a worker until lease_expires_at
    DELIVERED = "delivered"  # the receiver answered 2xx
    FAILED = "failed"  # given up after the retry window; redeliver to try again


def enqueue(
    session: Session, *, account_id: int, event_id: int, endpoint_ids: list[int], now: datetime
) -> list[WebhookDelivery]:
    deliveries = [
        WebhookDelivery(
            account_id=account_id,
            endpoint_id=endpoint_id,
            event_id=event_id,
            state=DeliveryState.PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        for endpoint_id in endpoint_ids
    ]
    session.add_all(deliveries)
    session.flush()
    return deliveries


def _claimable(now: datetime) -> Any:
    return or_(
        and_(
            WebhookDelivery.state == DeliveryState.PENDING,
            WebhookDelivery.next_attempt_at <= now,
        ),
        and_(
            WebhookDelivery.state == DeliveryState.DELIVERING,
            WebhookDelivery.lease_expires_at < now,
        ),
    )


def due(
    session: Session, *, limit: int, exclude_endpoints: set[int], lock: bool = False
) -> list[tuple[int, int]]:
    """(delivery id, endpoint id) of up to limit due deliveries to enabled endpoints, oldest
    due first, leaving out the excluded endpoints (those already at their bound); lock: on
    PostgreSQL, lock them, skipping rows another worker has locked (claim them next)."""
    now = utcnow()
    query = (
        select(WebhookDelivery.id, WebhookDelivery.endpoint_id)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(_claimable(now), WebhookEndpoint.enabled.is_(True))
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
    )
    if exclude_endpoints:
        query = query.where(WebhookDelivery.endpoint_id.not_in(exclude_endpoints))
    if lock and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=WebhookDelivery)
    return [(row[0], row[1]) for row in session.execute(query)]


def claim(session: Session, delivery_id: int, *, owner: str, lease_seconds: int) -> bool:
    """Leases one due delivery to owner; False if another worker took it first."""
    now = utcnow()
    result = session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, _claimable(now))
        .values(
            state=DeliveryState.DELIVERING,
            lease_owner=owner,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            attempts=WebhookDelivery.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    return rowcount(result) == 1


@dataclass(frozen=True)
class Leased:
    """A leased delivery with what sending it needs."""

    delivery: WebhookDelivery
    endpoint: WebhookEndpoint
    event: WebhookEvent


def leased(session: Session, delivery_ids: list[int], owner: str) -> list[Leased]:
    """Those of the deliveries that are leased to owner, with their endpoints and events."""
    rows = session.execute(
        select(WebhookDelivery, WebhookEndpoint, WebhookEvent)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(
            WebhookDelivery.id.in_(delivery_ids),
            WebhookDelivery.state == DeliveryState.DELIVERING,
            WebhookDelivery.lease_owner == owner,
        )
    )
    return [Leased(row[0], row[1], row[2]) for row in rows]


def finish(
    session: Session,
    delivery_id: int,
    owner: str,
    *,
    state: DeliveryState,
    next_attempt_at: datetime | None,
    **outcome: Any,
) -> bool:
    """Ends owner's lease with the attempt's outcome (status_code, error, duration_ms,
    last_attempt_at, delivered_at) and the next state; False if the lease moved on."""
    values: dict[str, Any] = dict(state=state, lease_owner=None, lease_expires_at=None, **outcome)
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    result = session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.state == DeliveryState.DELIVERING,
            WebhookDelivery.lease_owner == owner,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result) == 1


def release_leases(session: Session, owner: str) -> int:
    """Hands owner's deliveries back to the queue, due now (graceful shutdown)."""
    result = session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.state == DeliveryState.DELIVERING,
            WebhookDelivery.lease_owner == owner,
        )
        .values(
            state=DeliveryState.PENDING,
            lease_owner=None,
            lease_expires_at=None,
            next_attempt_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)


def get(
    session: Session, account_id: int, endpoint_id: int, delivery_id: int
) -> tuple[WebhookDelivery, WebhookEvent] | None:
    row = session.execute(
        select(WebhookDelivery, WebhookEvent)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.endpoint_id == endpoint_id,
            WebhookDelivery.account_id == account_id,
        )
    ).first()
    return (row[0], row[1]) if row else None


COLUMNS: dict[str, Any] = {
    "id": WebhookDelivery.id,
    "event_type": WebhookEvent.type,
    "state": WebhookDelivery.state,
    "attempts": WebhookDelivery.attempts,
    "status_code": WebhookDelivery.status_code,
    "created_at": WebhookDelivery.created_at,
    "last_attempt_at": WebhookDelivery.last_attempt_at,
    "delivered_at": WebhookDelivery.delivered_at,
}


def page(
    session: Session, account_id: int, endpoint_id: int, list_query: ListQuery
) -> tuple[list[tuple[WebhookDelivery, WebhookEvent]], int]:
    query = (
        select(WebhookDelivery, WebhookEvent)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.account_id == account_id, WebhookDelivery.endpoint_id == endpoint_id)
    )
    rows, total = listing.page_rows(session, query, COLUMNS, WebhookDelivery.id, list_query)
    return [(row[0], row[1]) for row in rows], total
