"""Webhook endpoints as an integrator manages them: create (the secret once), list, get,
change, delete; URLs that would reach inside the network are refused at registration."""

from __future__ import annotations

from typing import Any

import pytest

from clinifile.runtime import Runtime
from tests.factories import Api, Tenant

EVENTS = ["patient_attachment.processed", "patient_attachment.failed"]


def _create(api: Api, tenant: Tenant, url: str, **extra: Any) -> Any:
    body = {"url": url, "events": EVENTS, **extra}
    return api.client.post("/v1/webhook_endpoints", json=body, auth=tenant.auth)


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"webhook_allow_private": True}


def test_create_shows_the_secret_once(api: Api, tenant: Tenant) -> None:
    response = _create(api, tenant, "https://93.184.215.14/clinifile", description="EHR sync")
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 40
    assert created["events"] == EVENTS and created["enabled"] is True
    assert created["description"] == "EHR sync" and created["disabled_reason"] is None
    assert response.headers["location"] == created["links"]["self"]
    fetched = api.client.get(created["links"]["self"], auth=tenant.auth).json()
    assert "secret" not in fetched
    assert fetched == {k: v for k, v in created.items() if k != "secret"}
    listed = api.client.get("/v1/webhook_endpoints", auth=tenant.auth).json()
    assert listed["total_entries"] == 1 and listed["webhook_endpoints"] == [fetched]
    log = api.client.get(fetched["deliveries"]["links"]["self"], auth=tenant.auth)
    assert log.status_code == 200 and log.json()["webhook_deliveries"] == []


def test_patch_changes_url_events_and_enabled(api: Api, tenant: Tenant) -> None:
    created = _create(api, tenant, "https://93.184.215.14/a").json()
    path = created["links"]["self"]
    changed = api.client.patch(
        path,
        json={
            "url": "https://93.184.215.14/b",
            "events": ["patient_attachment.created"],
            "enabled": False,
        },
        auth=tenant.auth,
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["url"] == "https://93.184.215.14/b"
    assert body["events"] == ["patient_attachment.created"] and body["enabled"] is False
    assert api.client.get(path, auth=tenant.auth).json() == body
    filtered = api.client.get(
        "/v1/webhook_endpoints", params={"q[]": "enabled:=false"}, auth=tenant.auth
    ).json()
    assert [e["id"] for e in filtered["webhook_endpoints"]] == [created["id"]]


def test_delete_removes_the_endpoint(api: Api, tenant: Tenant) -> None:
    path = _create(api, tenant, "https://93.184.215.14/a").json()["links"]["self"]
    assert api.client.delete(path, auth=tenant.auth).status_code == 204
    assert api.client.get(path, auth=tenant.auth).status_code == 404
    assert api.client.delete(path, auth=tenant.auth).status_code == 404


def test_another_accounts_endpoint_is_404(api: Api, tenant: Tenant, other_tenant: Tenant) -> None:
    theirs = _create(api, other_tenant, "https://93.184.215.14/theirs").json()
    path = theirs["links"]["self"]
    assert api.client.get(path, auth=tenant.auth).status_code == 404
    assert api.client.patch(path, json={"enabled": False}, auth=tenant.auth).status_code == 404
    assert api.client.delete(path, auth=tenant.auth).status_code == 404
    assert api.client.get(f"{path}/deliveries", auth=tenant.auth).status_code == 404
    mine = api.client.get("/v1/webhook_endpoints", auth=tenant.auth).json()
    assert mine["total_entries"] == 0
    assert api.client.get(path, auth=other_tenant.auth).json()["enabled"] is True


@pytest.mark.parametrize("bad", ["abc", "0", "-1", "1e3", "99999999999999999999"])
def test_malformed_ids_are_404(api: Api, tenant: Tenant, bad: str) -> None:
    for path in (
        f"/v1/webhook_endpoints/{bad}",
        f"/v1/webhook_endpoints/{bad}/deliveries",
        f"/v1/webhook_endpoints/{bad}/deliveries/1",
    ):
        response = api.client.get(path, auth=tenant.auth)
        assert response.status_code == 404 and response.json()["message"]
    endpoint = _create(api, tenant, "https://93.184.215.14/a").json()["links"]["self"]
    response = api.client.post(f"{endpoint}/deliveries/{bad}/redeliver", auth=tenant.auth)
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://93.184.215.14/x", "events": EVENTS}, "url"),
        ({"url": "93.184.215.14/x", "events": EVENTS}, "url"),
        ({"url": "https://user:pw@93.184.215.14/x", "events": EVENTS}, "url"),
        ({"url": "https:///x", "events": EVENTS}, "url"),
        ({"url": "http://[::1/x", "events": EVENTS}, "url"),
        ({"url": "https://no-such-host.invalid/x", "events": EVENTS}, "url"),
        ({"url": "https://93.184.215.14/" + "a" * 2100, "events": EVENTS}, "url"),
        ({"url": "https://93.184.215.14/x", "events": ["patient_attachment.eaten"]}, "events"),
        ({"url": "https://93.184.215.14/x", "events": []}, "events"),
        ({"url": "https://93.184.215.14/x", "events": "patient_attachment.created"}, "events"),
        ({"events": EVENTS}, "url"),
        ({"url": "https://93.184.215.14/x"}, "events"),
        (
            {"url": "https://93.184.215.14/x", "events": EVENTS, "description": "d" * 256},
            "description",
        ),
    ],
)
def test_bad_endpoints_are_422(api: Api, tenant: Tenant, body: dict[str, Any], field: str) -> None:
    response = api.client.post("/v1/webhook_endpoints", json=body, auth=tenant.auth)
    assert response.status_code == 422, response.text
    assert response.json()["message"] == "Validation Failed"
    assert field in response.json()["errors"]


def test_patch_with_bad_fields_is_422(api: Api, tenant: Tenant) -> None:
    path = _create(api, tenant, "https://93.184.215.14/a").json()["links"]["self"]
    for body, field in (
        ({"url": "gopher://x"}, "url"),
        ({"events": ["nope"]}, "events"),
        ({"enabled": "yes"}, "enabled"),
    ):
        response = api.client.patch(path, json=body, auth=tenant.auth)
        assert response.status_code == 422 and field in response.json()["errors"]
    assert api.client.get(path, auth=tenant.auth).json()["url"] == "https://93.184.215.14/a"


class TestWithoutTheSetting:
    """The default: only public addresses, refused with a message that names the address."""

    @pytest.fixture
    def settings_overrides(self) -> dict[str, object]:
        return {}

    @pytest.mark.parametrize(
        ("url", "kind"),
        [
            ("http://127.0.0.1:8080/hook", "loopback"),
            ("http://[::1]/hook", "loopback"),
            ("http://169.254.169.254/latest/meta-data/", "link-local"),
            ("http://10.1.2.3/hook", "private"),
            ("http://192.168.0.10/hook", "private"),
            ("https://[fd00::1]/hook", "unique-local"),
            ("http://0.0.0.0/hook", "unspecified"),
            ("http://[::ffff:127.0.0.1]/hook", "loopback"),
            ("http://localhost:9000/hook", "loopback"),
        ],
    )
    def test_registration_refuses_addresses_inside_the_network(
        self, api: Api, tenant: Tenant, url: str, kind: str
    ) -> None:
        response = _create(api, tenant, url)
        assert response.status_code == 422
        message = response.json()["errors"]["url"]
        assert kind in message and "CLINIFILE_WEBHOOK_ALLOW_PRIVATE=true" in message
        assert (
            api.client.get("/v1/webhook_endpoints", auth=tenant.auth).json()["total_entries"] == 0
        )

    def test_patch_refuses_them_too(self, api: Api, runtime: Runtime, tenant: Tenant) -> None:
        created = _create(api, tenant, "https://93.184.215.14/hook")
        assert created.status_code == 201, created.text
        path = created.json()["links"]["self"]
        response = api.client.patch(path, json={"url": "http://127.0.0.1/x"}, auth=tenant.auth)
        assert response.status_code == 422 and "loopback" in response.json()["errors"]["url"]


def test_an_operator_manages_endpoints_from_the_command_line(
    api: Api, runtime: Runtime, tenant: Tenant
) -> None:
    from typer.testing import CliRunner

    from clinifile.cli.main import app
    from tests import log_scan

    env = runtime.settings.as_environment()
    account = str(tenant.account_id)

    def run(*args: str, **more: str) -> tuple[int, str, str]:
        result = CliRunner().invoke(app, ["webhooks", *args], env={**env, **more})
        return result.exit_code, result.stdout.strip(), result.stderr.strip()

    code, out, err = run(
        "create",
        "--account",
        account,
        "--url",
        "https://93.184.215.14/in",
        "--event",
        "patient_attachment.processed",
        "--api-base-url",
        "https://files.example/",
    )
    assert code == 0, err
    endpoint_id, secret = out.split(" ")
    log_scan.remember_secret(secret)
    assert secret.startswith("whsec_")
    record = api.client.get(f"/v1/webhook_endpoints/{endpoint_id}", auth=tenant.auth).json()
    assert record["events"] == ["patient_attachment.processed"] and "secret" not in record
    code, out, _ = run("ls", "--account", account)
    assert code == 0 and out.startswith(f"{endpoint_id}\tenabled\tpatient_attachment.processed")
    code, out, err = run(
        "create",
        "--account",
        account,
        "--url",
        "http://10.0.0.1/",
        "--event",
        "patient_attachment.processed",
        CLINIFILE_WEBHOOK_ALLOW_PRIVATE="false",
    )
    assert code == 2 and out == "" and "private" in err
    code, _, err = run("delete", "--account", account, endpoint_id)
    assert code == 0
    code, _, err = run("delete", "--account", account, endpoint_id)
    assert code == 2 and "not found" in err
