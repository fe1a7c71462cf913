"""The audit trail: every create, update, archive and download of an attachment leaves one
event (who: key and user; what: attachment and patient; when; from where), readable with
GET /v1/audit_events, and the database refuses to change or delete one."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from clinifile.runtime import Runtime
from tests import samples
from tests.factories import Api, Tenant


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    # the TestClient connects as "testclient": make it a trusted proxy
    return {"forwarded_allow_ips": "testclient"}


def _events(api: Api, tenant: Tenant, query: str = "") -> dict[str, Any]:
    response = api.client.get(f"/v1/audit_events{query}", auth=tenant.auth)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _key_id(runtime: Runtime, tenant: Tenant) -> str:
    with runtime.engine.connect() as conn:
        return str(
            conn.execute(
                text("SELECT id FROM api_keys WHERE account_id = :a"), {"a": tenant.account_id}
            ).scalar_one()
        )


def test_each_change_and_download_leaves_one_event(
    api: Api, tenant: Tenant, runtime: Runtime
) -> None:
    record = api.upload(tenant, "letter.pdf", samples.pdf())
    api.process_all()
    path = f"/v1/patient_attachments/{record['id']}"
    assert api.client.patch(path, json={"description": "x"}, auth=tenant.auth).status_code == 200
    assert api.download(tenant, record["id"]).status_code == 200
    assert api.client.post(f"{path}/archive", auth=tenant.auth).status_code == 204
    assert api.client.delete(path, auth=tenant.auth).status_code == 204

    body = _events(api, tenant, "?sort=id")
    assert [e["action"] for e in body["audit_events"]] == [
        "patient_attachment.create",
        "patient_attachment.update",
        "patient_attachment.download",
        "patient_attachment.archive",
        "patient_attachment.archive",
    ]
    base = "http://testserver/v1"
    event = body["audit_events"][2]
    assert event["patient_attachment"] == {"links": {"self": f"{base}{path.removeprefix('/v1')}"}}
    assert event["patient"] == {"links": {"self": f"{base}/patients/{tenant.patient_id}"}}
    assert event["user"]["links"]["self"].startswith(f"{base}/users/")
    assert event["api_key_id"] == _key_id(runtime, tenant)
    assert event["ip_address"] == "testclient"
    assert event["user_agent"] == "clinifile tests"
    assert event["created_at"].endswith("Z")
    assert event["links"]["self"] == f"{base}/audit_events/{event['id']}"
    one = api.client.get(f"/v1/audit_events/{event['id']}", auth=tenant.auth)
    assert one.json() == event


def test_refused_requests_leave_no_event(api: Api, tenant: Tenant) -> None:
    record = api.upload(tenant, "letter.pdf", samples.pdf())
    # not processed yet: the download is refused
    content = api.client.get(
        f"/v1/patient_attachments/{record['id']}/content", auth=tenant.auth, follow_redirects=False
    )
    assert content.status_code == 409
    assert (
        api.client.patch("/v1/patient_attachments/999999", json={}, auth=tenant.auth).status_code
        == 404
    )
    long = {"description": "x" * 256}
    patch = api.client.patch(f"/v1/patient_attachments/{record['id']}", json=long, auth=tenant.auth)
    assert patch.status_code == 422
    assert [e["action"] for e in _events(api, tenant)["audit_events"]] == [
        "patient_attachment.create"
    ]


def test_events_filter_sort_and_page_like_other_lists(api: Api, tenant: Tenant) -> None:
    first = api.upload(tenant, "a.pdf", samples.pdf("a"))
    api.upload(tenant, "b.pdf", samples.pdf("b"))
    api.process_all()
    for _ in range(3):
        api.download(tenant, first["id"])

    downloads = _events(api, tenant, "?q[]=action:=patient_attachment.download")
    assert downloads["total_entries"] == 3
    of_first = _events(api, tenant, f"?q[]=attachment_id:={first['id']}")
    assert of_first["total_entries"] == 4
    newest = _events(api, tenant, "?sort=id:desc&per_page=2")
    assert newest["total_entries"] == 5
    ids = [int(e["id"]) for e in newest["audit_events"]]
    assert ids == sorted(ids, reverse=True) and len(ids) == 2
    assert "page=2" in newest["links"]["next"]
    since = newest["audit_events"][-1]["created_at"]
    assert _events(api, tenant, f"?q[]=created_at:>={since}")["total_entries"] >= 2
    bad = api.client.get("/v1/audit_events?q[]=secret:=1", auth=tenant.auth)
    assert bad.status_code == 400
    assert "cannot filter on 'secret'" in bad.json()["message"]
    assert api.client.get("/v1/audit_events/99999999", auth=tenant.auth).status_code == 404


def test_the_address_is_the_client_behind_a_trusted_proxy(api: Api, tenant: Tenant) -> None:
    record = api.upload(tenant, "a.pdf", samples.pdf())
    api.process_all()
    api.client.get(
        f"/v1/patient_attachments/{record['id']}/content",
        auth=tenant.auth,
        headers={"X-Forwarded-For": "203.0.113.9, testclient"},
        follow_redirects=False,
    )
    api.client.get(
        f"/v1/patient_attachments/{record['id']}/content",
        auth=tenant.auth,
        headers={"X-Forwarded-For": "not an address"},
        follow_redirects=False,
    )
    events = _events(api, tenant, "?q[]=action:=patient_attachment.download&sort=id")
    assert [e["ip_address"] for e in events["audit_events"]] == ["203.0.113.9", "testclient"]


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_events SET action = 'nothing'", "DELETE FROM audit_events"],
)
def test_the_database_refuses_to_change_or_delete_events(
    api: Api, tenant: Tenant, runtime: Runtime, statement: str
) -> None:
    api.upload(tenant, "a.pdf", samples.pdf())
    with pytest.raises(DBAPIError, match="append-only"), runtime.engine.begin() as conn:
        conn.execute(text(statement))
    assert _events(api, tenant)["audit_events"][0]["action"] == "patient_attachment.create"
