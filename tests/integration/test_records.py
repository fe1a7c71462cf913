"""Patients and attachments after upload: create, read, describe, archive, and tenancy."""

from __future__ import annotations

import re

import pytest

from clinifile.db import accounts as accounts_db
from clinifile.runtime import Runtime
from tests import samples
from tests.factories import Api, Tenant, make_tenant

TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def test_create_patient_returns_the_record(api: Api, tenant: Tenant) -> None:
    response = api.client.post(
        "/v1/patients",
        json={
            "first_name": "Grace",
            "last_name": "Hopper",
            "email": "g@example.com",
            "date_of_birth": "1906-12-09",
        },
        auth=tenant.auth,
    )
    assert response.status_code == 201
    record = response.json()
    assert response.headers["location"] == record["links"]["self"]
    assert record["first_name"] == "Grace" and record["date_of_birth"] == "1906-12-09"
    assert TIME.match(record["created_at"]) and record["archived_at"] is None
    assert record["patient_attachments"]["links"]["self"] == (
        record["links"]["self"] + "/patient_attachments"
    )
    fetched = api.client.get(f"/v1/patients/{record['id']}", auth=tenant.auth).json()
    assert fetched == record


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"last_name": "X"}, "first_name"),
        ({"first_name": " ", "last_name": "X"}, "first_name"),
        ({"first_name": "A", "last_name": "X", "date_of_birth": "1906-13-45"}, "date_of_birth"),
        ({"first_name": "A", "last_name": 5}, "last_name"),
        ({"first_name": "A" * 256, "last_name": "X"}, "first_name"),
    ],
)
def test_create_patient_with_bad_fields_is_422(
    api: Api, tenant: Tenant, body: dict[str, object], field: str
) -> None:
    response = api.client.post("/v1/patients", json=body, auth=tenant.auth)
    assert response.status_code == 422
    assert response.json()["message"] == "Validation Failed"
    assert field in response.json()["errors"]


def test_archive_and_unarchive_a_patient(api: Api, tenant: Tenant) -> None:
    path = f"/v1/patients/{tenant.patient_id}"
    archived = api.client.post(f"{path}/archive", auth=tenant.auth)
    assert archived.status_code == 204 and archived.content == b""
    assert api.client.get("/v1/patients", auth=tenant.auth).json()["total_entries"] == 0
    assert TIME.match(api.client.get(path, auth=tenant.auth).json()["archived_at"])
    restored = api.client.post(f"{path}/unarchive", auth=tenant.auth)
    assert restored.status_code == 200 and restored.json()["archived_at"] is None


def test_update_description(api: Api, tenant: Tenant) -> None:
    record = api.upload(tenant, "a.pdf", samples.pdf(), description="old")
    path = f"/v1/patient_attachments/{record['id']}"
    response = api.client.patch(path, json={"description": "Referral letter"}, auth=tenant.auth)
    assert response.status_code == 200
    assert response.json()["description"] == "Referral letter"
    assert api.get(tenant, record["id"])["description"] == "Referral letter"
    for bad in ({"description": "x" * 256}, {"description": 12}, {"description": ["x"]}):
        refused = api.client.patch(path, json=bad, auth=tenant.auth)
        assert refused.status_code == 422
        assert "description" in refused.json()["errors"]


@pytest.mark.parametrize("how", ["archive", "delete"])
def test_archived_attachments_leave_lists_but_stay_readable(
    api: Api, tenant: Tenant, how: str
) -> None:
    record = api.upload(tenant, "a.pdf", samples.pdf())
    api.process_all()
    path = f"/v1/patient_attachments/{record['id']}"
    if how == "archive":
        response = api.client.post(f"{path}/archive", auth=tenant.auth)
    else:
        response = api.client.delete(path, auth=tenant.auth)
    assert response.status_code == 204
    assert api.client.get("/v1/patient_attachments", auth=tenant.auth).json()["total_entries"] == 0
    fetched = api.get(tenant, record["id"])
    assert TIME.match(fetched["archived_at"])
    assert api.download(tenant, record["id"]).content == samples.pdf()


def test_another_account_cannot_touch_an_attachment(
    api: Api, tenant: Tenant, runtime: Runtime
) -> None:
    record = api.upload(tenant, "a.pdf", samples.pdf(), description="mine")
    api.process_all()
    intruder = make_tenant(runtime, name="Intruder")
    path = f"/v1/patient_attachments/{record['id']}"
    attempts = [
        api.client.get(path, auth=intruder.auth),
        api.client.get(f"{path}/content", auth=intruder.auth, follow_redirects=False),
        api.client.patch(path, json={"description": "theirs"}, auth=intruder.auth),
        api.client.post(f"{path}/archive", auth=intruder.auth),
        api.client.delete(path, auth=intruder.auth),
        api.client.get(f"/v1/patients/{tenant.patient_id}/patient_attachments", auth=intruder.auth),
        api.client.post(f"/v1/patients/{tenant.patient_id}/archive", auth=intruder.auth),
    ]
    for response in attempts:
        assert response.status_code == 404, response.request.url
        assert response.json() == {"message": "Not found"}
    listed = api.client.get(
        f"/v1/patient_attachments?q[]=id:={record['id']}", auth=intruder.auth
    ).json()
    assert listed["total_entries"] == 0
    mine = api.get(tenant, record["id"])
    assert mine["description"] == "mine" and mine["archived_at"] is None


def test_the_user_link_names_the_keys_owner(api: Api, tenant: Tenant, runtime: Runtime) -> None:
    record = api.upload(tenant, "a.pdf", samples.pdf())
    with runtime.sessions() as session:
        user = accounts_db.first_user(session, tenant.account_id)
    assert record["user"]["links"]["self"].endswith(f"/v1/users/{user.id}")
