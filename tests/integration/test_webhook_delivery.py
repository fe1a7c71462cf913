"""Webhook deliveries as a receiver sees them: signed (verified with the standardwebhooks
package), after commit only, retried with the same webhook-id, never following a redirect,
never to an address inside the network unless the operator allows it; and as an integrator
sees them in the delivery log."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import standardwebhooks
from sqlalchemy import func, select

from clinifile import webhooks
from clinifile.api.presenters import attachment_at
from clinifile.db.models import Attachment, WebhookDelivery, WebhookEvent
from clinifile.runtime import Runtime
from clinifile.services import events
from clinifile.worker.runner import WorkerPool
from tests import log_scan, samples
from tests.factories import Api, Tenant, wait_for
from tests.receivers import always, failing, receiver

ALL = list(events.EVENT_TYPES)


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {
        "webhook_allow_private": True,
        "webhook_backoff_base_seconds": 0.05,
        "webhook_backoff_max_seconds": 0.2,
        "webhook_timeout_seconds": 1.0,
        "webhook_poll_seconds": 0.05,
    }


@pytest.fixture
def deliverer(runtime: Runtime) -> Iterator[WorkerPool]:
    pool = WorkerPool(runtime, concurrency=1, render=attachment_at)
    pool.start()
    yield pool
    pool.stop(5)


def _endpoint(api: Api, tenant: Tenant, url: str, event_types: list[str] = ALL) -> dict[str, Any]:
    response = api.client.post(
        "/v1/webhook_endpoints", json={"url": url, "events": event_types}, auth=tenant.auth
    )
    assert response.status_code == 201, response.text
    record: dict[str, Any] = response.json()
    log_scan.remember_secret(record["secret"])
    return record


def _deliveries(api: Api, tenant: Tenant, endpoint: dict[str, Any]) -> list[dict[str, Any]]:
    url = endpoint["deliveries"]["links"]["self"]
    body = api.client.get(url, auth=tenant.auth).json()
    return body["webhook_deliveries"]  # type: ignore[no-any-return]


def test_events_arrive_signed_with_the_record_as_get_shows_it(
    api: Api, tenant: Tenant, deliverer: WorkerPool
) -> None:
    with receiver() as hook:
        endpoint = _endpoint(api, tenant, hook.url)
        created = api.upload(tenant, "letter.pdf", samples.pdf())
        wait_for(lambda: hook.of_type("patient_attachment.created"))
        api.process_all()
        wait_for(lambda: hook.of_type("patient_attachment.processed"))
        processed = api.get(tenant, created["id"])
        api.client.patch(created["links"]["self"], json={"description": "x"}, auth=tenant.auth)
        api.client.post(f"{created['links']['self']}/archive", auth=tenant.auth)
        wait_for(lambda: hook.of_type("patient_attachment.archived"))
        wait_for(lambda: hook.of_type("patient_attachment.updated"))
    verifier = standardwebhooks.Webhook(endpoint["secret"])
    for request in hook.requests:
        assert verifier.verify(request.body, request.headers) == request.event
        assert request.headers["webhook-id"].startswith("msg_")
        assert request.headers["Content-Type"] == "application/json"
        assert webhooks.verify(request.body, request.headers, endpoint["secret"]) == request.event
    first = hook.of_type("patient_attachment.created")[0].event
    assert first["data"] == created and first["timestamp"].endswith("Z")
    assert hook.of_type("patient_attachment.processed")[0].event["data"] == processed
    assert hook.of_type("patient_attachment.updated")[0].event["data"]["description"] == "x"
    archived = hook.of_type("patient_attachment.archived")[0].event["data"]
    assert archived == api.get(tenant, created["id"]) and archived["archived_at"]
    ids = [r.headers["webhook-id"] for r in hook.requests]
    assert len(set(ids)) == len(ids) == 4
    # the log shows each, delivered, with the receiver's status and how long it took
    log = _deliveries(api, tenant, endpoint)
    assert {d["webhook_id"] for d in log} == set(ids)
    assert all(d["state"] == "delivered" and d["status_code"] == 200 for d in log)
    assert all(d["attempts"] == 1 and d["duration_ms"] >= 0 for d in log)


def test_only_the_events_subscribed_and_only_to_enabled_endpoints(
    api: Api, tenant: Tenant, other_tenant: Tenant, deliverer: WorkerPool
) -> None:
    with receiver() as mine, receiver() as off, receiver() as theirs:
        _endpoint(api, tenant, mine.url, ["patient_attachment.processed"])
        disabled = _endpoint(api, tenant, off.url)
        api.client.patch(disabled["links"]["self"], json={"enabled": False}, auth=tenant.auth)
        _endpoint(api, other_tenant, theirs.url)
        api.upload(tenant, "a.pdf", samples.pdf())
        api.process_all()
        wait_for(lambda: mine.requests)
    assert [e["type"] for e in mine.events()] == ["patient_attachment.processed"]
    assert off.arrived == [] and theirs.arrived == []


def test_a_failing_receiver_gets_the_same_webhook_id_until_it_takes_it(
    api: Api, tenant: Tenant, deliverer: WorkerPool
) -> None:
    with receiver(failing(2)) as hook:
        endpoint = _endpoint(api, tenant, hook.url, ["patient_attachment.created"])
        api.upload(tenant, "a.pdf", samples.pdf())
        wait_for(lambda: len(hook.requests) == 3)
    assert len({r.headers["webhook-id"] for r in hook.requests}) == 1
    assert len({r.body for r in hook.requests}) == 1
    (delivery,) = _deliveries(api, tenant, endpoint)
    assert delivery["state"] == "delivered" and delivery["attempts"] == 3
    assert delivery["status_code"] == 200 and delivery["error"] is None


def test_a_hanging_receiver_times_out_and_is_retried(
    api: Api, tenant: Tenant, deliverer: WorkerPool
) -> None:
    with receiver(hang={0}) as hook:
        endpoint = _endpoint(api, tenant, hook.url, ["patient_attachment.created"])
        api.upload(tenant, "a.pdf", samples.pdf())
        wait_for(lambda: hook.requests)
        (delivery,) = _deliveries(api, tenant, endpoint)
    assert len(hook.arrived) == 2 and hook.arrived[1].at - hook.arrived[0].at >= 1.0
    assert delivery["state"] == "delivered" and delivery["attempts"] == 2


def test_a_redirect_is_not_followed(api: Api, tenant: Tenant, deliverer: WorkerPool) -> None:
    with receiver() as elsewhere, receiver(lambda n: (302, {"Location": elsewhere.url})) as hook:
        endpoint = _endpoint(api, tenant, hook.url, ["patient_attachment.created"])
        api.upload(tenant, "a.pdf", samples.pdf())
        wait_for(lambda: len(hook.requests) >= 2)
        (delivery,) = _deliveries(api, tenant, endpoint)
    assert elsewhere.arrived == []
    assert delivery["status_code"] == 302 and delivery["state"] in ("pending", "delivering")


def test_a_delivery_to_an_address_allowed_no_longer_is_refused(
    api: Api, runtime: Runtime, tenant: Tenant, deliverer: WorkerPool
) -> None:
    """Checked again at each delivery: here the operator turned the setting off."""
    with receiver() as hook:
        endpoint = _endpoint(api, tenant, hook.url, ["patient_attachment.created"])
        runtime.settings.webhook_allow_private = False
        api.upload(tenant, "a.pdf", samples.pdf())
        delivery = wait_for(lambda: [d for d in _deliveries(api, tenant, endpoint) if d["error"]])
    assert hook.arrived == []
    assert "refused" in delivery[0]["error"] and "loopback" in delivery[0]["error"]
    assert delivery[0]["status_code"] is None


def test_a_change_rolled_back_sends_nothing(
    api: Api, runtime: Runtime, tenant: Tenant, deliverer: WorkerPool
) -> None:
    with receiver() as hook:
        _endpoint(api, tenant, hook.url, ["patient_attachment.updated"])
        record = api.upload(tenant, "a.pdf", samples.pdf())
        with pytest.raises(RuntimeError), runtime.transaction() as session:
            attachment = session.get(Attachment, int(record["id"]))
            assert attachment is not None
            attachment.description = "never"
            events.emit(session, events.EventType.UPDATED, attachment)
            raise RuntimeError("the change fails after its event was written")
        api.client.patch(record["links"]["self"], json={"description": "kept"}, auth=tenant.auth)
        wait_for(lambda: hook.requests)
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(WebhookEvent)) == 1
    assert [e["data"]["description"] for e in hook.events()] == ["kept"]


def test_redeliver_sends_the_event_again_with_its_webhook_id(
    api: Api, tenant: Tenant, deliverer: WorkerPool
) -> None:
    with receiver() as hook:
        endpoint = _endpoint(api, tenant, hook.url, ["patient_attachment.created"])
        api.upload(tenant, "a.pdf", samples.pdf())
        (first,) = wait_for(lambda: _deliveries(api, tenant, endpoint))
        wait_for(lambda: hook.requests)
        again = api.client.post(f"{first['links']['self']}/redeliver", auth=tenant.auth)
        assert again.status_code == 202, again.text
        assert again.json()["webhook_id"] == first["webhook_id"]
        assert again.json()["id"] != first["id"]
        wait_for(lambda: len(hook.requests) == 2)
    assert hook.requests[0].body == hook.requests[1].body
    assert len(_deliveries(api, tenant, endpoint)) == 2


class TestGivingUp:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, object]:
        return {
            "webhook_allow_private": True,
            "webhook_backoff_base_seconds": 0.05,
            "webhook_backoff_max_seconds": 0.1,
            "webhook_poll_seconds": 0.05,
            "webhook_retry_seconds": 1.0,
            "webhook_disable_after_seconds": 1.0,
        }

    def test_a_receiver_that_keeps_failing_is_given_up_then_disabled(
        self, api: Api, tenant: Tenant, deliverer: WorkerPool
    ) -> None:
        with receiver(always(503)) as hook:
            endpoint = _endpoint(api, tenant, hook.url, ["patient_attachment.created"])
            api.upload(tenant, "a.pdf", samples.pdf())
            path = endpoint["links"]["self"]
            disabled = wait_for(
                lambda: (
                    (r := api.client.get(path, auth=tenant.auth).json())["enabled"] is False and r
                )
            )
            (delivery,) = wait_for(
                lambda: [d for d in _deliveries(api, tenant, endpoint) if d["state"] == "failed"]
            )
            count = len(hook.arrived)
            api.upload(tenant, "b.pdf", samples.pdf())  # not sent: the endpoint is disabled
        assert "failed" in disabled["disabled_reason"] and "HTTP 503" in disabled["disabled_reason"]
        assert delivery["status_code"] == 503 and delivery["attempts"] >= 2
        assert len(hook.arrived) == count
        enabled = api.client.patch(path, json={"enabled": True}, auth=tenant.auth).json()
        assert enabled["enabled"] is True and enabled["disabled_reason"] is None


class TestASlowEndpoint:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, object]:
        # long enough that no held request times out while the test looks
        return {"webhook_allow_private": True, "webhook_timeout_seconds": 30.0}

    def test_it_delays_nobody_else(
        self, api: Api, runtime: Runtime, tenant: Tenant, deliverer: WorkerPool
    ) -> None:
        """The slow one holds at most webhook_endpoint_concurrency deliveries at once."""
        bound = runtime.settings.webhook_endpoint_concurrency
        with receiver(hang=set(range(100))) as slow, receiver() as fast:
            held = _endpoint(api, tenant, slow.url, ["patient_attachment.created"])
            _endpoint(api, tenant, fast.url, ["patient_attachment.created"])
            for n in range(8):
                api.upload(tenant, f"{n}.pdf", samples.pdf())
            wait_for(lambda: len(fast.requests) == 8, timeout=10)
            assert len(slow.arrived) == bound
            with runtime.sessions() as session:
                delivering = session.scalar(
                    select(func.count())
                    .select_from(WebhookDelivery)
                    .where(
                        WebhookDelivery.state == "delivering",
                        WebhookDelivery.endpoint_id == int(held["id"]),
                    )
                )
            assert delivering == bound


def test_delivering_needs_no_secret_in_any_log(
    api: Api, tenant: Tenant, deliverer: WorkerPool
) -> None:
    """The run's log scan fails the suite if a secret remembered above reached a log line."""
    with receiver(failing(1)) as hook:
        _endpoint(api, tenant, hook.url + "?token=abc", ["patient_attachment.created"])
        api.upload(tenant, "a.pdf", samples.pdf())
        wait_for(lambda: hook.requests)


def test_an_event_the_worker_died_delivering_is_delivered_after_restart(
    api: Api, runtime: Runtime, tenant: Tenant, tmp_path: Path
) -> None:
    """At least once: the worker is killed (SIGKILL) while the receiver holds the request;
    its lease runs out and the next worker sends the event again, with the same id."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLINIFILE_")}
    env.update(runtime.settings.as_environment())
    env.update(
        CLINIFILE_WEBHOOK_LEASE_SECONDS="2",
        CLINIFILE_WEBHOOK_TIMEOUT_SECONDS="30",
        CLINIFILE_SCAN="off",
    )
    with receiver(hang={0}) as hook:
        _endpoint(api, tenant, hook.url, ["patient_attachment.created"])
        api.upload(tenant, "a.pdf", samples.pdf())
        log = tmp_path / "worker.log"
        with open(log, "ab") as out:
            worker = subprocess.Popen(
                [sys.executable, "-m", "clinifile.cli", "worker"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_for(lambda: hook.arrived, timeout=30)
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait()
        log_scan.keep_log_records(log.read_text(errors="replace"), "webhook-worker")
        runtime.settings.webhook_lease_seconds = 2
        pool = WorkerPool(runtime, concurrency=1, render=attachment_at)
        pool.start()
        try:
            wait_for(lambda: hook.requests, timeout=20)
        finally:
            pool.stop(5)
    first, again = hook.arrived[0], hook.requests[0]
    assert first.headers["webhook-id"] == again.headers["webhook-id"]
    assert first.body == again.body and again.at - first.at >= 1.5
