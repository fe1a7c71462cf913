"""Auth, user agent and error shapes that every endpoint shares."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from clinifile.runtime import Runtime
from tests.factories import Tenant, make_tenant


def test_no_key_is_401_with_basic_challenge(client: TestClient) -> None:
    response = client.get("/v1/patient_attachments")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Basic realm="clinifile"'
    assert "API key" in response.json()["message"]


@pytest.mark.parametrize(
    "key",
    ["unknown", "0" * 64 + "-au1", "x" * 5000, "ü-au1", "0" * 64 + "-us2", "a:b"],
    ids=["unknown", "well-formed unknown", "huge", "unicode", "foreign shard", "colon"],
)
def test_bad_keys_are_401(client: TestClient, key: str) -> None:
    response = client.get("/v1/patient_attachments", auth=(key, ""))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Basic realm="clinifile"'
    assert set(response.json()) == {"message"}


def test_a_key_for_a_shard_not_served_here_names_that_shard(client: TestClient) -> None:
    response = client.get("/v1/patient_attachments", auth=("0" * 64 + "-ca1", ""))
    assert response.status_code == 401
    assert "'ca1'" in response.json()["message"]


def test_a_key_with_its_shard_suffix_changed_is_401(client: TestClient, tenant: Tenant) -> None:
    changed = tenant.key.removesuffix("-au1") + "-uk1"
    assert client.get("/v1/patient_attachments", auth=(changed, "")).status_code == 401


def test_malformed_basic_header_is_401(client: TestClient) -> None:
    response = client.get("/v1/patient_attachments", headers={"Authorization": "Basic ???"})
    assert response.status_code == 401


def test_missing_user_agent_is_400(runtime: Runtime, tenant: Tenant) -> None:
    from clinifile.api.app import create_app

    with TestClient(create_app(runtime)) as bare:
        bare.headers.pop("user-agent", None)
        response = bare.get("/v1/patient_attachments", auth=tenant.auth)
    assert response.status_code == 400
    assert response.json() == {"message": "Requires a user agent"}


def test_unknown_path_and_wrong_method_answer_json(client: TestClient, tenant: Tenant) -> None:
    missing = client.get("/v1/nothing-here", auth=tenant.auth)
    assert missing.status_code == 404
    assert missing.json() == {"message": "Not found"}
    wrong = client.put("/v1/patient_attachments", auth=tenant.auth)
    assert wrong.status_code == 405
    assert wrong.headers["content-type"] == "application/json"


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'"text"', b"\xff\xfe"])
def test_malformed_json_is_400(client: TestClient, tenant: Tenant, body: bytes) -> None:
    response = client.post(
        "/v1/patient_attachments",
        content=body,
        headers={"Content-Type": "application/json"},
        auth=tenant.auth,
    )
    assert response.status_code == 400, response.text
    assert "JSON" in response.json()["message"]


def test_missing_fields_are_422_with_field_errors(client: TestClient, tenant: Tenant) -> None:
    response = client.post("/v1/patient_attachments", json={}, auth=tenant.auth)
    assert response.status_code == 422
    body = response.json()
    assert body["message"] == "Validation Failed"
    assert set(body["errors"]) == {"patient_id", "upload_url"}


@pytest.mark.parametrize("attachment_id", ["abc", "-1", "0", str(2**64), "1e3"])
def test_non_digit_or_oversized_ids_are_404(
    client: TestClient, tenant: Tenant, attachment_id: str
) -> None:
    response = client.get(f"/v1/patient_attachments/{attachment_id}", auth=tenant.auth)
    assert response.status_code == 404
    assert response.json() == {"message": "Not found"}


def test_another_accounts_records_are_404(
    client: TestClient, tenant: Tenant, runtime: Runtime
) -> None:
    other = make_tenant(runtime, name="Other")
    for path in (
        f"/v1/patients/{other.patient_id}",
        f"/v1/patients/{other.patient_id}/patient_attachments",
        f"/v1/patients/{other.patient_id}/attachment_presigned_post",
    ):
        response = client.get(path, auth=tenant.auth)
        assert response.status_code == 404, path
        assert response.json() == {"message": "Not found"}


@pytest.mark.parametrize("query", ["page=0", "page=x", "per_page=0", "per_page=101", "per_page=-5"])
def test_bad_paging_is_400(client: TestClient, tenant: Tenant, query: str) -> None:
    response = client.get(f"/v1/patient_attachments?{query}", auth=tenant.auth)
    assert response.status_code == 400
    assert "page" in response.json()["message"]


def test_docs_and_openapi_are_served_without_a_cdn(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert document["components"]["securitySchemes"]["apiKey"]["scheme"] == "basic"
    assert "/v1/patient_attachments" in document["paths"]
    page = client.get("/docs")
    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets and all(a.startswith("/") for a in assets), assets
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
