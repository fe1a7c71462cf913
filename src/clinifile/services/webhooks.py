"""Webhook endpoints as an account manages them (API and CLI), and their delivery logs.

A URL is checked (services.webhook_urls) before the transaction that stores it; the
secret is made here and returned once, by `create`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from clinifile.db import accounts as accounts_db
from clinifile.db import webhook_deliveries as deliveries_db
from clinifile.db import webhooks as webhooks_db
from clinifile.db.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from clinifile.db.types import utcnow
from clinifile.domain.queries import ListQuery
from clinifile.errors import UnsafeWebhookUrl, ValidationFailed, found
from clinifile.runtime import Runtime
from clinifile.services import events as events_service
from clinifile.services import webhook_urls
from clinifile.webhooks import new_secret


@dataclass(frozen=True)
class Created:
    endpoint: WebhookEndpoint
    secret: str  # shown once


def _checked_url(runtime: Runtime, url: str) -> str:
    try:
        webhook_urls.resolve(url, allow_private=runtime.settings.webhook_allow_private)
    except UnsafeWebhookUrl as error:
        raise ValidationFailed({"url": str(error)}) from None
    return url


def _checked_events(events: list[str]) -> str:
    unknown = [e for e in events if e not in events_service.EVENT_TYPES]
    if unknown:
        known = ", ".join(events_service.EVENT_TYPES)
        raise ValidationFailed({"events": f"unknown event {unknown[0][:64]!r}; known: {known}"})
    if not events:
        raise ValidationFailed({"events": "name at least one event"})
    return " ".join(dict.fromkeys(events))


def create_for_account(
    runtime: Runtime,
    account_id: int,
    *,
    url: str,
    events: list[str],
    description: str | None,
    api_base_url: str,
) -> Created:
    """A new enabled endpoint; ValidationFailed naming a refused url or event."""
    url = _checked_url(runtime, url)
    kinds = _checked_events(events)
    secret = new_secret()
    with runtime.transaction() as session:
        found(accounts_db.get(session, account_id), f"account {account_id}")
        endpoint = webhooks_db.create_endpoint(
            session,
            account_id=account_id,
            url=url,
            events=kinds,
            description=description,
            secret=secret,
            api_base_url=api_base_url,
        )
        session.expunge(endpoint)
    return Created(endpoint, secret)


def _endpoint(session: Session, account_id: int, endpoint_id: int) -> WebhookEndpoint:
    return found(webhooks_db.get_endpoint(session, account_id, endpoint_id), "webhook endpoint")


def get(runtime: Runtime, account_id: int, endpoint_id: int) -> WebhookEndpoint:
    with runtime.sessions() as session:
        return _endpoint(session, account_id, endpoint_id)


def page(runtime: Runtime, account_id: int, query: ListQuery) -> tuple[list[WebhookEndpoint], int]:
    with runtime.sessions() as session:
        return webhooks_db.page_endpoints(session, account_id, query)


def update(
    runtime: Runtime,
    account_id: int,
    endpoint_id: int,
    *,
    url: str | None = None,
    events: list[str] | None = None,
    enabled: bool | None = None,
    description: str | None = None,
) -> WebhookEndpoint:
    """Changes what is given; enabling clears the reason it was disabled and its failures."""
    fields: dict[str, object] = {}
    if url is not None:
        fields["url"] = _checked_url(runtime, url)
    if events is not None:
        fields["events"] = _checked_events(events)
    if description is not None:
        fields["description"] = description
    if enabled is not None:
        fields["enabled"] = enabled
        if enabled:
            fields.update(disabled_reason=None, failing_since=None)
    with runtime.transaction() as session:
        endpoint = _endpoint(session, account_id, endpoint_id)
        webhooks_db.update_endpoint(session, endpoint, **fields)
        return endpoint


def delete(runtime: Runtime, account_id: int, endpoint_id: int) -> None:
    with runtime.transaction() as session:
        webhooks_db.delete_endpoint(session, _endpoint(session, account_id, endpoint_id))


Delivery = tuple[WebhookDelivery, WebhookEvent]


def deliveries(
    runtime: Runtime, account_id: int, endpoint_id: int, query: ListQuery
) -> tuple[list[Delivery], int]:
    with runtime.sessions() as session:
        _endpoint(session, account_id, endpoint_id)
        return deliveries_db.page(session, account_id, endpoint_id, query)


def delivery(runtime: Runtime, account_id: int, endpoint_id: int, delivery_id: int) -> Delivery:
    with runtime.sessions() as session:
        return found(
            deliveries_db.get(session, account_id, endpoint_id, delivery_id), "webhook delivery"
        )


def redeliver(runtime: Runtime, account_id: int, endpoint_id: int, delivery_id: int) -> Delivery:
    """A new delivery of the same event to the endpoint (the same webhook-id), due now."""
    with runtime.transaction() as session:
        endpoint = _endpoint(session, account_id, endpoint_id)
        _, event = found(
            deliveries_db.get(session, account_id, endpoint_id, delivery_id), "webhook delivery"
        )
        (again,) = deliveries_db.enqueue(
            session,
            account_id=account_id,
            event_id=event.id,
            endpoint_ids=[endpoint.id],
            now=utcnow(),
        )
    events_service.wake()
    return again, event
