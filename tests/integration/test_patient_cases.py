"""Patient cases as Cliniko's routes serve them, the part that touches attachments: a case
holds some of its patient's attachments, and lists them like every list."""

from __future__ import annotations

import re
from typing import Any

import pytest

from clinifile.services import accounts
from tests import samples
from tests.factories import Api, Tenant

TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def _create(api: Api, tenant: Tenant, patient_id: int | str | None = None, **body: Any) -> Any:
    pid = patient_id or tenant.patient_id
    return api.client.post(
        f"/v1/patients/{pid}/patient_cases", json={"name": "Knee", **body}, auth=tenant.auth
    )


def test_create_a_case_holding_attachments(api: Api, tenant: Tenant) -> None:
    a = api.upload(tenant, "a.pdf", samples.pdf())
    b = api.upload(tenant, "b.pdf", samples.pdf())
    response = _create(
        api,
        tenant,
        name="Left knee",
        issue_date="2026-11-01",
        notes="Referral from Dr Müller",
        patient_attachment_ids=[b["id"], a["id"], b["id"]],
    )
    assert response.status_code == 201, response.text
    case = response.json()
    assert response.headers["location"] == case["links"]["self"]
    assert case["name"] == "Left knee" and case["issue_date"] == "2026-11-01"
    assert case["notes"] == "Referral from Dr Müller" and case["archived_at"] is None
    assert case["patient_attachment_ids"] == sorted([a["id"], b["id"]], key=int)
    assert TIME.match(case["created_at"]) and TIME.match(case["updated_at"])
    assert case["patient"]["links"]["self"].endswith(f"/v1/patients/{tenant.patient_id}")
    assert api.client.get(case["links"]["self"], auth=tenant.auth).json() == case
    held = api.client.get(case["patient_attachments"]["links"]["self"], auth=tenant.auth).json()
    assert [r["id"] for r in held["patient_attachments"]] == [a["id"], b["id"]]
    assert held["total_entries"] == 2 and held["patient_attachments"][0] == api.get(tenant, a["id"])


def test_a_cases_attachments_list_filters_pages_and_leaves_out_archived(
    api: Api, tenant: Tenant
) -> None:
    ids = [api.upload(tenant, f"{n}.pdf", samples.pdf())["id"] for n in range(3)]
    api.client.patch(
        f"/v1/patient_attachments/{ids[1]}", json={"description": "x"}, auth=tenant.auth
    )
    case = _create(api, tenant, patient_attachment_ids=ids).json()
    api.client.post(f"/v1/patient_attachments/{ids[2]}/archive", auth=tenant.auth)
    path = case["patient_attachments"]["links"]["self"]
    listed = api.client.get(path, params={"per_page": 1}, auth=tenant.auth).json()
    assert listed["total_entries"] == 2 and "next" in listed["links"]
    described = api.client.get(path, params={"q[]": "description:=x"}, auth=tenant.auth).json()
    assert [r["id"] for r in described["patient_attachments"]] == [ids[1]]
    everything = api.client.get(path, params={"q[]": "archived_at:*"}, auth=tenant.auth).json()
    assert everything["total_entries"] == 3
    bad = api.client.get(path, params={"q[]": "nope:=1"}, auth=tenant.auth)
    assert bad.status_code == 400


def test_an_attachment_of_another_patient_or_account_is_422_naming_it(
    api: Api, runtime: Any, tenant: Tenant, other_tenant: Tenant
) -> None:
    mine = api.upload(tenant, "a.pdf", samples.pdf())["id"]
    theirs = api.upload(other_tenant, "t.pdf", samples.pdf())["id"]
    other_patient = accounts.create_patient(
        runtime, account_id=tenant.account_id, first_name="B", last_name="C"
    )
    for patient_id, ids, named in (
        (tenant.patient_id, [mine, theirs], theirs),
        (tenant.patient_id, ["999999999"], "999999999"),
        (other_patient, [mine], mine),
    ):
        response = _create(api, tenant, patient_id, patient_attachment_ids=ids)
        assert response.status_code == 422, response.text
        message = response.json()["errors"]["patient_attachment_ids"]
        assert f"patient attachment {named} " in message
    listed = api.client.get("/v1/patient_cases", auth=tenant.auth).json()
    assert listed["total_entries"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"name": "A", "issue_date": "2026-02-30"}, "issue_date"),
        ({"name": "A", "patient_attachment_ids": ["abc"]}, "patient_attachment_ids"),
        ({"name": "A", "patient_attachment_ids": "1"}, "patient_attachment_ids"),
        ({"issue_date": "2026-01-01"}, "name"),
    ],
)
def test_bad_cases_are_422(api: Api, tenant: Tenant, body: dict[str, Any], field: str) -> None:
    response = api.client.post(
        f"/v1/patients/{tenant.patient_id}/patient_cases", json=body, auth=tenant.auth
    )
    assert response.status_code == 422, response.text
    assert response.json()["message"] == "Validation Failed"
    assert any(key.startswith(field) for key in response.json()["errors"])


def test_patch_archive_and_unarchive(api: Api, tenant: Tenant) -> None:
    a = api.upload(tenant, "a.pdf", samples.pdf())["id"]
    case = _create(api, tenant, patient_attachment_ids=[a]).json()
    path = case["links"]["self"]
    changed = api.client.patch(
        path,
        json={"name": "Right knee", "notes": None, "patient_attachment_ids": []},
        auth=tenant.auth,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["name"] == "Right knee" and changed.json()["patient_attachment_ids"] == []
    assert (
        api.client.patch(
            path, json={"patient_attachment_ids": ["1x"]}, auth=tenant.auth
        ).status_code
        == 422
    )
    assert api.client.post(f"{path}/archive", auth=tenant.auth).status_code == 204
    assert api.client.get("/v1/patient_cases", auth=tenant.auth).json()["total_entries"] == 0
    archived = api.client.get(
        "/v1/patient_cases", params={"q[]": "archived_at:*"}, auth=tenant.auth
    ).json()
    assert archived["patient_cases"][0]["archived_at"] is not None
    back = api.client.post(f"{path}/unarchive", auth=tenant.auth)
    assert back.status_code == 200 and back.json()["archived_at"] is None


def test_lists_of_cases_per_account_and_patient(api: Api, runtime: Any, tenant: Tenant) -> None:
    other_patient = accounts.create_patient(
        runtime, account_id=tenant.account_id, first_name="B", last_name="C"
    )
    first = _create(api, tenant, name="A").json()
    second = _create(api, tenant, other_patient, name="B").json()
    everyone = api.client.get("/v1/patient_cases", auth=tenant.auth).json()
    assert [c["id"] for c in everyone["patient_cases"]] == [first["id"], second["id"]]
    theirs = api.client.get(f"/v1/patients/{other_patient}/patient_cases", auth=tenant.auth).json()
    assert [c["id"] for c in theirs["patient_cases"]] == [second["id"]]
    by_patient = api.client.get(
        "/v1/patient_cases", params={"q[]": f"patient_id:={tenant.patient_id}"}, auth=tenant.auth
    ).json()
    assert [c["id"] for c in by_patient["patient_cases"]] == [first["id"]]
    named = api.client.get("/v1/patient_cases", params={"q[]": "name:~b"}, auth=tenant.auth)
    assert [c["id"] for c in named.json()["patient_cases"]] == [second["id"]]


def test_another_accounts_cases_are_404(api: Api, tenant: Tenant, other_tenant: Tenant) -> None:
    theirs = _create(api, other_tenant).json()
    path = theirs["links"]["self"]
    for method, url in (
        ("GET", path),
        ("PATCH", path),
        ("POST", f"{path}/archive"),
        ("POST", f"{path}/unarchive"),
        ("GET", f"{path}/patient_attachments"),
        ("GET", f"/v1/patients/{other_tenant.patient_id}/patient_cases"),
        ("POST", f"/v1/patients/{other_tenant.patient_id}/patient_cases"),
    ):
        response = api.client.request(method, url, json={"name": "x"}, auth=tenant.auth)
        assert response.status_code == 404, (method, url, response.text)
    for bad in ("abc", "0", "99999999999999999999"):
        assert api.client.get(f"/v1/patient_cases/{bad}", auth=tenant.auth).status_code == 404
    assert api.client.get(path, auth=other_tenant.auth).json()["archived_at"] is None
