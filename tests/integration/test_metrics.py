"""/metrics: Prometheus' text, parsed as Prometheus parses it, moves as uploads flow; its
labels never carry an account, a patient, an attachment, a key or a file name."""

from __future__ import annotations

import socket

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from clinifile.metrics import serve_metrics
from clinifile.runtime import Runtime
from tests import samples
from tests.factories import Api, Tenant, s3_post, upload_url

PRESIGN_ROUTE = "/v1/patients/{patient_id}/attachment_presigned_post"
STEPS = ("inspect", "settle", "judge", "promote", "complete")


Samples = list[tuple[str, dict[str, str], float]]


def parse(text: str) -> Samples:
    return [
        (sample.name, sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


def scrape(client: TestClient) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples named name whose labels include labels (0 when none)."""
    return sum(
        v for n, ls, v in samples if n == name and all(ls.get(k) == x for k, x in labels.items())
    )


def test_figures_move_as_an_upload_flows(api: Api, tenant: Tenant) -> None:
    before = scrape(api.client)
    assert value(before, "clinifile_database_up") == 1
    content = samples.pdf("counted")
    post = api.presign(tenant)
    assert s3_post(post, "a.pdf", content).status_code == 201
    refused = api.register(tenant, upload_url(post, "other.pdf"))
    assert refused.status_code == 422
    assert api.register(tenant, upload_url(post, "a.pdf")).status_code == 201
    again = api.register(tenant, upload_url(post, "a.pdf"))
    assert again.status_code == 422

    pending = scrape(api.client)
    delta = lambda name, **ls: value(pending, name, **ls) - value(before, name, **ls)  # noqa: E731
    assert delta("clinifile_presigns_total") == 1
    assert delta("clinifile_registrations_refused_total", reason="no_such_object") == 1
    assert delta("clinifile_registrations_refused_total", reason="already_registered") == 1
    ok = {"method": "GET", "route": PRESIGN_ROUTE, "status": "200"}
    assert delta("clinifile_http_requests_total", **ok) == 1
    timed = {"method": "GET", "route": PRESIGN_ROUTE}
    assert delta("clinifile_http_request_duration_seconds_count", **timed) == 1
    created = {"method": "POST", "route": "/v1/patient_attachments"}
    assert delta("clinifile_http_requests_total", **created, status="201") == 1
    assert delta("clinifile_http_requests_total", **created, status="422") == 2
    # the queue, from this runtime's own database
    assert value(pending, "clinifile_attachments", state="pending", region="au1") == 1
    assert value(pending, "clinifile_attachments", state="completed", region="au1") == 0
    assert value(pending, "clinifile_oldest_pending_age_seconds") > 0
    assert value(pending, "clinifile_stored_bytes", region="au1") == 0

    assert api.process_all() == 1
    done = scrape(api.client)
    assert value(done, "clinifile_attachments", state="pending", region="au1") == 0
    assert value(done, "clinifile_attachments", state="completed", region="au1") == 1
    assert value(done, "clinifile_oldest_pending_age_seconds") == 0
    assert value(done, "clinifile_stored_bytes", region="au1") == len(content)
    for step in STEPS:
        name = "clinifile_processing_step_duration_seconds_count"
        assert value(done, name, step=step) - value(pending, name, step=step) == 1, step


def test_a_retry_is_counted_by_its_error_class(api: Api, tenant: Tenant, runtime: Runtime) -> None:
    record = api.upload(tenant, "gone.pdf", samples.pdf())
    store = runtime.store("au1")
    with runtime.engine.connect() as conn:
        temp_key = conn.execute(
            text("SELECT temp_key FROM attachments WHERE id = :id"), {"id": int(record["id"])}
        ).scalar_one()
    store.delete(temp_key)
    before = scrape(api.client)
    attempts = runtime.settings.worker_missing_object_attempts
    assert api.process_all() == attempts  # the tests' backoff is 0: every attempt at once
    after = scrape(api.client)
    name = "clinifile_processing_errors_total"
    for answer, count in (("retry", attempts - 1), ("fail", 1)):
        labels = {"error": "UploadMissing", "answer": answer}
        assert value(after, name, **labels) - value(before, name, **labels) == count, answer
    assert value(after, "clinifile_attachments", state="failed", region="au1") == 1


def test_no_identity_in_any_label(api: Api, tenant: Tenant, other_tenant: Tenant) -> None:
    content = samples.pdf("private")
    record = api.upload(tenant, "Jane Citizen referral.pdf", content)
    api.process_all()
    api.get(tenant, record["id"])
    # another account's attachment, a path no route has, a path with an id in it
    foreign = api.client.get(f"/v1/patient_attachments/{record['id']}", auth=other_tenant.auth)
    assert foreign.status_code == 404
    assert api.client.get("/v1/jane-citizen-secret", auth=tenant.auth).status_code == 404
    assert api.client.get("/v1/patients/98765432123", auth=tenant.auth).status_code == 404
    secrets = {
        str(tenant.account_id),
        str(other_tenant.account_id),
        # the database's small ids, as they appear in a path
        f"/{tenant.patient_id}",
        f"/{record['id']}",
        "98765432123",
        "Jane",
        "jane",
        tenant.key,
        other_tenant.key,
        "Ada",
        "Lovelace",
    }
    app = api.client.app
    templates = {getattr(route, "path", None) for route in app.routes}  # type: ignore[attr-defined]
    templates |= set(app.openapi()["paths"])  # type: ignore[attr-defined]
    names = {"method", "route", "status", "reason", "step", "error", "answer", "outcome"}
    names |= {"state", "region", "le"}
    for name, labels, _ in scrape(api.client):
        # prometheus_client's own process and runtime metrics have their fixed labels
        assert not name.startswith("clinifile_") or set(labels) <= names, (name, labels)
        for label, shown in labels.items():
            assert not any(secret in shown for secret in secrets), (name, label, shown)
            if name.startswith("clinifile_") and label != "le":
                assert shown not in (str(tenant.patient_id), record["id"]), (name, label)
        if "route" in labels:
            assert labels["route"] in templates | {"<unmatched>"}, labels
    unmatched = scrape(api.client)
    assert value(unmatched, "clinifile_http_requests_total", route="<unmatched>", status="404") >= 1


def test_hostile_requests_to_metrics_get_json_errors(api: Api) -> None:
    for method in ("POST", "PUT", "DELETE"):
        response = api.client.request(method, "/metrics", content=b"x" * 100)
        assert response.status_code == 405
        assert "message" in response.json()
    huge = api.client.post("/metrics", content=b"x" * (1024 * 1024))
    assert huge.status_code == 413
    odd = api.client.get("/metrics?name[]=%00%ff&" + "a=b&" * 500)
    assert odd.status_code == 200


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("path", ["/metrics", "/"])
def test_a_worker_process_serves_metrics_on_its_own_port(
    api: Api, tenant: Tenant, runtime: Runtime, path: str
) -> None:
    api.upload(tenant, "queued.pdf", samples.pdf())
    port = _free_port()
    server, thread = serve_metrics(runtime, "127.0.0.1", port)
    try:
        response = httpx.get(f"http://127.0.0.1:{port}{path}", timeout=10)
        assert response.status_code == 200
        figures = parse(response.text)
        assert value(figures, "clinifile_database_up") == 1
        assert value(figures, "clinifile_attachments", state="pending", region="au1") == 1
        # this process's own counters too
        assert any(name == "clinifile_presigns_total" for name, _, _ in figures)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
