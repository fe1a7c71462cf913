"""Users as Cliniko shows them (`GET /v1/user`, `GET /v1/users/{id}`), made by an operator
with `clinifile users create` and given keys with `clinifile keys create --user`; the
attachment lists' `user_id` and `pinned_at` filters; every list's default order."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from clinifile.cli.main import app
from clinifile.db.models import Attachment, Patient
from clinifile.db.types import utcnow
from clinifile.runtime import Runtime
from tests import samples
from tests.factories import Api, Tenant

TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def _cli(runtime: Runtime, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env=runtime.settings.as_environment())
    return result.exit_code, result.stdout.strip(), result.stderr.strip()


def test_get_the_user_a_key_acts_for(api: Api, tenant: Tenant) -> None:
    response = api.client.get("/v1/user", auth=tenant.auth)
    assert response.status_code == 200
    user = response.json()
    assert set(user) == {
        "id",
        "first_name",
        "last_name",
        "email",
        "created_at",
        "updated_at",
        "links",
    }
    assert user["first_name"] == "Test clinic" and user["last_name"] == "API user"
    assert TIME.match(user["created_at"]) and TIME.match(user["updated_at"])
    assert user["links"]["self"].endswith(f"/v1/users/{user['id']}")
    again = api.client.get(user["links"]["self"], auth=tenant.auth)
    assert again.status_code == 200 and again.json() == user


def test_an_attachments_user_link_is_the_keys_user(api: Api, tenant: Tenant) -> None:
    record = api.upload(tenant, "a.pdf", samples.pdf())
    user = api.client.get(record["user"]["links"]["self"], auth=tenant.auth)
    assert user.status_code == 200
    assert user.json() == api.client.get("/v1/user", auth=tenant.auth).json()


def test_another_accounts_user_is_404(api: Api, tenant: Tenant, other_tenant: Tenant) -> None:
    theirs = api.client.get("/v1/user", auth=other_tenant.auth).json()
    response = api.client.get(f"/v1/users/{theirs['id']}", auth=tenant.auth)
    assert response.status_code == 404
    assert "message" in response.json() and theirs["first_name"] not in response.text


@pytest.mark.parametrize("bad", ["abc", "0", "-1", "1.5", "99999999999999999999", "%20"])
def test_a_malformed_user_id_is_404(api: Api, tenant: Tenant, bad: str) -> None:
    response = api.client.get(f"/v1/users/{bad}", auth=tenant.auth)
    assert response.status_code == 404
    assert response.json()["message"]


def test_users_need_a_key(api: Api, tenant: Tenant) -> None:
    assert api.client.get("/v1/user").status_code == 401


def test_an_operator_creates_a_user_and_a_key_for_them(
    api: Api, runtime: Runtime, tenant: Tenant
) -> None:
    code, out, err = _cli(
        runtime,
        "users",
        "create",
        "--account",
        str(tenant.account_id),
        "--first-name",
        "Grace",
        "--last-name",
        "Hopper",
        "--email",
        "grace@example.com",
    )
    assert code == 0, err
    assert out.isdigit()
    code, key, err = _cli(
        runtime, "keys", "create", "--account", str(tenant.account_id), "--user", out
    )
    assert code == 0, err
    auth = (key, "")
    me = api.client.get("/v1/user", auth=auth).json()
    assert me["id"] == out
    assert (me["first_name"], me["last_name"], me["email"]) == (
        "Grace",
        "Hopper",
        "grace@example.com",
    )
    # what that key registers is linked to that user, and the first key's user still is theirs
    record = api.upload(
        Tenant(tenant.account_id, tenant.patient_id, key, tenant.region), "g.png", samples.png()
    )
    assert record["user"]["links"]["self"] == me["links"]["self"]
    assert api.client.get(me["links"]["self"], auth=tenant.auth).status_code == 200


def test_a_key_for_another_accounts_user_is_refused(
    runtime: Runtime, tenant: Tenant, other_tenant: Tenant, api: Api
) -> None:
    theirs = api.client.get("/v1/user", auth=other_tenant.auth).json()["id"]
    code, out, err = _cli(
        runtime, "keys", "create", "--account", str(tenant.account_id), "--user", theirs
    )
    assert code == 2 and out == ""
    assert f"user {theirs} of account {tenant.account_id} not found" in err


def test_users_create_refuses_a_blank_name_and_an_unknown_account(
    runtime: Runtime, tenant: Tenant
) -> None:
    account = str(tenant.account_id)
    code, out, err = _cli(
        runtime, "users", "create", "--account", account, "--first-name", " ", "--last-name", "X"
    )
    assert code == 2 and out == "" and "first_name can't be blank" in err
    code, out, err = _cli(
        runtime, "users", "create", "--account", "1", "--first-name", "A", "--last-name", "B"
    )
    assert code == 2 and out == "" and "account 1 not found" in err


def _ids(api: Api, tenant: Tenant, path: str, *filters: str) -> list[str]:
    params = [("q[]", f) for f in filters]
    response = api.client.get(path, params=params, auth=tenant.auth)
    assert response.status_code == 200, response.text
    body = response.json()
    plural = next(k for k in body if k not in ("total_entries", "links"))
    return [record["id"] for record in body[plural]]


def test_attachment_lists_filter_by_user_id(api: Api, runtime: Runtime, tenant: Tenant) -> None:
    first = api.upload(tenant, "a.pdf", samples.pdf())["id"]
    code, user_id, err = _cli(
        runtime,
        "users",
        "create",
        "--account",
        str(tenant.account_id),
        "--first-name",
        "B",
        "--last-name",
        "C",
    )
    assert code == 0, err
    _, key, _ = _cli(
        runtime, "keys", "create", "--account", str(tenant.account_id), "--user", user_id
    )
    second = api.upload(
        Tenant(tenant.account_id, tenant.patient_id, key, "au1"), "b.pdf", samples.pdf()
    )["id"]
    me = api.client.get("/v1/user", auth=tenant.auth).json()["id"]
    for path in (
        "/v1/patient_attachments",
        f"/v1/patients/{tenant.patient_id}/patient_attachments",
    ):
        assert _ids(api, tenant, path, f"user_id:={user_id}") == [second]
        assert _ids(api, tenant, path, f"user_id:={me}") == [first]
        assert _ids(api, tenant, path, f"user_id:={me},{user_id}") == [first, second]
        assert _ids(api, tenant, path, f"user_id:!={me}") == [second]
    bad = api.client.get("/v1/patient_attachments", params={"q[]": "user_id:=x"}, auth=tenant.auth)
    assert bad.status_code == 400 and "user_id" in bad.json()["message"]


def test_pinned_at_is_null_unless_pinned_and_filterable(
    api: Api, runtime: Runtime, tenant: Tenant
) -> None:
    plain = api.upload(tenant, "a.pdf", samples.pdf())
    pinned = api.upload(tenant, "b.pdf", samples.pdf())
    assert plain["pinned_at"] is None and pinned["pinned_at"] is None
    with runtime.transaction() as session:
        session.execute(
            update(Attachment).where(Attachment.id == int(pinned["id"])).values(pinned_at=utcnow())
        )
    record = api.get(tenant, pinned["id"])
    assert TIME.match(record["pinned_at"])
    path = "/v1/patient_attachments"
    assert _ids(api, tenant, path, "pinned_at:?") == [pinned["id"]]
    assert _ids(api, tenant, path, "pinned_at:!?") == [plain["id"]]
    assert _ids(api, tenant, path, "pinned_at:>=2000-01-01T00:00:00Z") == [pinned["id"]]


def test_lists_default_to_oldest_first_then_id(api: Api, runtime: Runtime, tenant: Tenant) -> None:
    """Cliniko's order: created_at ascending, then id; not the id alone."""
    ids = [api.upload(tenant, f"{n}.pdf", samples.pdf())["id"] for n in range(4)]
    now = utcnow()
    # the last registered is the oldest; the first two share a second
    ages = {
        ids[0]: now,
        ids[1]: now,
        ids[2]: now + timedelta(seconds=5),
        ids[3]: now - timedelta(1),
    }
    patients = []
    for n, (attachment_id, created) in enumerate(ages.items()):
        response = api.client.post(
            "/v1/patients", json={"first_name": f"P{n}", "last_name": "X"}, auth=tenant.auth
        )
        patients.append(response.json()["id"])
        with runtime.transaction() as session:
            session.execute(
                update(Attachment)
                .where(Attachment.id == int(attachment_id))
                .values(created_at=created)
            )
            session.execute(
                update(Patient).where(Patient.id == int(patients[-1])).values(created_at=created)
            )
    expected = [ids[3], ids[0], ids[1], ids[2]]
    assert _ids(api, tenant, "/v1/patient_attachments") == expected
    assert _ids(api, tenant, f"/v1/patients/{tenant.patient_id}/patient_attachments") == expected
    listed = _ids(api, tenant, "/v1/patients")
    # the tenant's own patient was created before `now` (or in its second, with a lower id)
    assert listed == [patients[3], str(tenant.patient_id), patients[0], patients[1], patients[2]]
    # a sort asked for still wins, and the id breaks its ties
    by_id_desc = api.client.get(
        "/v1/patient_attachments", params={"sort": "id:desc"}, auth=tenant.auth
    ).json()
    assert [r["id"] for r in by_id_desc["patient_attachments"]] == ids[::-1]
