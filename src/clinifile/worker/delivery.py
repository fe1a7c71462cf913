"""Delivering webhook events after commit: a loop that leases due deliveries and a thread
pool that sends them, at most `webhook_concurrency` at once in a process and
`webhook_endpoint_concurrency` to any one endpoint, so a slow receiver delays nobody else.

One attempt: re-read the leased delivery; check the endpoint's URL again and resolve it
(services.webhook_urls); POST the signed event to an address that check passed (the Host
header and TLS name stay the URL's), with a timeout and no redirects followed; then, in one
transaction, record the outcome (status code or error, duration; never the body) and the
next state: delivered on a 2xx, else pending again after exponential backoff with jitter,
or failed once the delivery's retry window is spent. An endpoint that has failed for
`webhook_disable_after_seconds` with no success between is disabled, the reason on its
record. A worker that dies mid-delivery leaves a lease that runs out; the next worker sends
the event again with the same webhook-id (at least once).
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy.orm import Session

from clinifile import __version__, metrics, webhooks
from clinifile.config import Settings
from clinifile.db import webhook_deliveries as deliveries_db
from clinifile.db import webhooks as webhooks_db
from clinifile.db.models import Attachment, WebhookEndpoint, WebhookEvent
from clinifile.db.types import utcnow
from clinifile.db.webhook_deliveries import DeliveryState, Leased
from clinifile.errors import UnsafeWebhookUrl
from clinifile.runtime import Runtime
from clinifile.services import events, webhook_urls

log = logging.getLogger(__name__)

# renders an attachment as GET shows it, its links under the given base URL (api.presenters)
Render = Callable[[str, Attachment], dict[str, Any]]


def payload(event: WebhookEvent, endpoint: WebhookEndpoint, render: Render) -> bytes:
    """The body: the same bytes on every attempt of the event to this endpoint."""
    record = render(endpoint.api_base_url, events.restore(event.snapshot))
    stamp = event.occurred_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    body = {"type": event.type, "timestamp": stamp, "data": record}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def message_id(event: WebhookEvent) -> str:
    return f"msg_{event.id}"


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    def describe(self) -> str:
        return f"HTTP {self.status_code}" if self.status_code is not None else str(self.error)


def send(
    http: httpx.Client, target: webhook_urls.Target, body: bytes, headers: dict[str, str]
) -> Outcome:
    """POSTs body to the first address target resolved to, as target.url."""
    address = target.addresses[0]
    url = httpx.URL(target.url).copy_with(host=str(address))
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    request_headers = {
        **headers,
        "Host": urlsplit(target.url).netloc,
        "Content-Type": "application/json",
        "User-Agent": f"clinifile-webhooks/{__version__}",
    }
    started = time.monotonic()
    try:
        response = http.post(url, content=body, headers=request_headers, extensions=extensions)
    except httpx.TimeoutException:
        error: str | None = "timed out"
        status: int | None = None
    except httpx.HTTPError as exc:
        error, status = f"could not connect or send: {type(exc).__name__}", None
    else:
        error, status = None, response.status_code
    return Outcome(status, error, int((time.monotonic() - started) * 1000))


def retry_delay(attempts: int, base: float, cap: float) -> float:
    """Exponential backoff with jitter: about base·2^(attempts-1), at most cap."""
    return min(cap, base * 2 ** max(0, attempts - 1)) * random.uniform(0.5, 1.0)


def _record(
    session: Session, settings: Settings, owner: str, leased: Leased, outcome: Outcome
) -> None:
    """Records one attempt and the delivery's next state in session's transaction."""
    delivery, endpoint = leased.delivery, leased.endpoint
    now = utcnow()
    facts: dict[str, Any] = dict(
        last_attempt_at=now,
        status_code=outcome.status_code,
        error=outcome.error,
        duration_ms=outcome.duration_ms,
    )
    if outcome.delivered:
        deliveries_db.finish(
            session,
            delivery.id,
            owner,
            state=DeliveryState.DELIVERED,
            next_attempt_at=None,
            delivered_at=now,
            **facts,
        )
        if endpoint.failing_since is not None:
            webhooks_db.record_success(session, endpoint.id)
        return
    delay = retry_delay(
        delivery.attempts,
        settings.webhook_backoff_base_seconds,
        settings.webhook_backoff_max_seconds,
    )
    due = now + timedelta(seconds=delay)
    window_ends = delivery.created_at + timedelta(seconds=settings.webhook_retry_seconds)
    state = DeliveryState.PENDING if due <= window_ends else DeliveryState.FAILED
    if not deliveries_db.finish(
        session, delivery.id, owner, state=state, next_attempt_at=due, **facts
    ):
        return
    log.info(
        "webhook delivery %s (endpoint %s) attempt %d: %s; %s",
        delivery.id,
        endpoint.id,
        delivery.attempts,
        outcome.describe(),
        f"retry at {due:%H:%M:%S}" if state == DeliveryState.PENDING else "given up",
    )
    since = webhooks_db.record_failure(session, endpoint.id, now)
    if since is None or now - since < timedelta(seconds=settings.webhook_disable_after_seconds):
        return
    reason = (
        f"disabled at {now:%Y-%m-%dT%H:%M:%SZ}: every delivery since "
        f"{since:%Y-%m-%dT%H:%M:%SZ} failed (the last: {outcome.describe()}); "
        "fix the receiver, then enable the endpoint again"
    )
    if webhooks_db.disable(session, endpoint.id, reason):
        log.warning("webhook endpoint %s disabled: %s", endpoint.id, reason)


Attempted = tuple[Leased, Outcome]


def settle(runtime: Runtime, owner: str, attempted: list[Attempted]) -> None:
    """Records the outcomes of attempts in one transaction (a worker settles what its
    threads sent together: one write instead of one each)."""
    if not attempted:
        return
    with runtime.transaction() as session:
        for leased, outcome in attempted:
            _record(session, runtime.settings, owner, leased, outcome)
            metrics.webhook_delivery(outcome.delivered)


class Payloads:
    """The bodies of recent events by API base URL: endpoints of one account share them."""

    def __init__(self, render: Render, size: int = 4096) -> None:
        self.render = render
        self.size = size
        self._bodies: dict[tuple[int, str], bytes] = {}

    def body(self, event: WebhookEvent, endpoint: WebhookEndpoint) -> bytes:
        key = (event.id, endpoint.api_base_url)
        found = self._bodies.get(key)
        if found is None:
            found = payload(event, endpoint, self.render)
            if len(self._bodies) >= self.size:
                self._bodies.clear()
            self._bodies[key] = found
        return found


def attempt(runtime: Runtime, http: httpx.Client, leased: Leased, payloads: Payloads) -> Attempted:
    """One attempt of a leased delivery; its outcome is for settle."""
    endpoint = leased.endpoint
    try:
        target = webhook_urls.resolve(
            endpoint.url, allow_private=runtime.settings.webhook_allow_private
        )
    except UnsafeWebhookUrl as error:
        outcome = Outcome(None, f"refused: the url {error}", 0)
    else:
        body = payloads.body(leased.event, endpoint)
        headers = webhooks.headers(endpoint.secret, message_id(leased.event), body)
        outcome = send(http, target, body, headers)
    return leased, outcome
