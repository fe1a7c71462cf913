"""`q[]` filters (every operator, every field type), sorting and paging, run in the database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import update

from clinifile.db.models import Attachment
from clinifile.runtime import Runtime
from tests.factories import Api, Tenant

T0 = datetime(2026, 1, 1, 9, 0, 0, tzinfo=UTC)


@pytest.fixture
def attachments(api: Api, tenant: Tenant, runtime: Runtime) -> dict[str, dict[str, Any]]:
    """Five attachments: four processed (sizes 10, 20, 30, 40), one pending, one archived."""
    made = {
        "a": api.upload(tenant, "a.txt", b"a" * 10, description="Referral letter"),
        "b": api.upload(tenant, "b.pdf", b"%PDF-1.4\n".ljust(20, b" "), description="50% off"),
        "c": api.upload(tenant, "c.txt", b"c" * 30),
        "d": api.upload(tenant, "d.txt", b"d" * 40, description="x_ray"),
    }
    api.process_all()
    made["e"] = api.upload(tenant, "e.txt", b"e" * 50, description="pending one")
    with runtime.transaction() as session:
        for hours, name in enumerate(["a", "b", "c", "d", "e"]):
            session.execute(
                update(Attachment)
                .where(Attachment.id == int(made[name]["id"]))
                .values(created_at=T0.replace(hour=9 + hours))
            )
    archived = api.client.post(
        f"/v1/patient_attachments/{made['d']['id']}/archive", auth=tenant.auth
    )
    assert archived.status_code == 204
    return made


def _names(api: Api, tenant: Tenant, made: dict[str, Any], *filters: str, sort: str = "") -> str:
    params: list[tuple[str, str]] = [("q[]", f) for f in filters]
    if sort:
        params.append(("sort", sort))
    response = api.client.get("/v1/patient_attachments", params=params, auth=tenant.auth)
    assert response.status_code == 200, response.text
    by_id = {v["id"]: k for k, v in made.items()}
    body = response.json()
    assert body["total_entries"] == len(body["patient_attachments"])
    return "".join(by_id[r["id"]] for r in body["patient_attachments"])


CASES = [
    # ids
    ("id:={a}", "a"),
    ("id:={a},{c},{e}", "ace"),
    ("id:!={a}", "bce"),
    ("id:>={c}", "ce"),
    ("id:>{c}", "e"),
    ("id:<={b}", "ab"),
    ("id:<{b}", "a"),
    ("id:?", "abce"),
    ("id:!?", ""),
    # numbers (size is known once processed)
    ("size:=20", "b"),
    ("size:=10,30", "ac"),
    ("size:!=20", "ace"),
    ("size:>=20", "bc"),
    ("size:>20", "c"),
    ("size:<=20", "ab"),
    ("size:<20", "a"),
    ("size:?", "abc"),
    ("size:!?", "e"),
    # strings
    ("description:=Referral letter", "a"),
    ("description:!=Referral letter", "bce"),
    ("description:~letter", "a"),
    ("description:~50%", "b"),
    ("description:~~Ref%", "a"),
    ("description:~~%one", "e"),
    ("description:?", "abe"),
    ("description:!?", "c"),
    ("filename:~.txt", "ac"),
    ("content_type:=application/pdf", "b"),
    # times
    ("created_at:>=2026-01-01T10:00:00Z", "bce"),
    ("created_at:>2026-01-01T10:00:00Z", "ce"),
    ("created_at:<=2026-01-01T10:00:00Z", "ab"),
    ("created_at:<2026-01-01T10:00:00+00:00", "a"),
    ("processed_at:?", "abc"),
    ("processed_at:!?", "e"),
    ("archived_at:*", "abcde"),
    ("archived_at:?", "d"),
    ("archived_at:!?", "abce"),
    # booleans
    ("processing_completed:=true", "abc"),
    ("processing_completed:=false", "e"),
    ("processing_completed:!=true", "e"),
]


@pytest.mark.parametrize(("template", "expected"), CASES)
def test_filter(
    api: Api, tenant: Tenant, attachments: dict[str, Any], template: str, expected: str
) -> None:
    ids = {k: v["id"] for k, v in attachments.items()}
    assert _names(api, tenant, attachments, template.format(**ids)) == expected


def test_filters_are_anded(api: Api, tenant: Tenant, attachments: dict[str, Any]) -> None:
    assert _names(api, tenant, attachments, "size:>=10", "description:?") == "ab"


def test_sort_by_several_keys(api: Api, tenant: Tenant, attachments: dict[str, Any]) -> None:
    assert _names(api, tenant, attachments, sort="size:desc") in ("cbae", "ecba")
    assert _names(api, tenant, attachments, sort="processing_completed,created_at:desc") == "ecba"
    assert _names(api, tenant, attachments, sort="description,id:desc") in ("cbae", "baec")
    assert _names(api, tenant, attachments, sort="id:desc") == "ecba"


def test_percent_encoded_brackets_mean_the_same(
    api: Api, tenant: Tenant, attachments: dict[str, Any]
) -> None:
    response = api.client.get("/v1/patient_attachments?q%5B%5D=size%3A%3E%3D20", auth=tenant.auth)
    assert response.json()["total_entries"] == 2


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("q[]=colour:=red", "colour"),
        ("q[]=size", "field:OPvalue"),
        ("q[]=size:~1", "'~'"),
        ("q[]=description:>a", "'>'"),
        ("q[]=created_at:=2026-01-01", "'='"),
        ("q[]=size:>abc", "abc"),
        ("q[]=id:=1,x", "'x'"),
        ("q[]=created_at:>yesterday", "yesterday"),
        ("q[]=processing_completed:=yes", "yes"),
        ("q[]=size:?1", "takes no value"),
        ("q[]=size:>", "'>'"),
        ("q[]=id:>99999999999999999999", "id"),
        ("sort=colour", "colour"),
        ("sort=size:sideways", "asc or desc"),
    ],
)
def test_malformed_queries_are_400_naming_the_problem(
    api: Api, tenant: Tenant, query: str, named: str
) -> None:
    response = api.client.get(f"/v1/patient_attachments?{query}", auth=tenant.auth)
    assert response.status_code == 400, response.text
    assert named in response.json()["message"]


def test_patient_id_filter_only_on_the_account_wide_list(
    api: Api, tenant: Tenant, attachments: dict[str, Any]
) -> None:
    pid = tenant.patient_id
    everyone = api.client.get(f"/v1/patient_attachments?q[]=patient_id:={pid}", auth=tenant.auth)
    assert everyone.json()["total_entries"] == 4
    nested = api.client.get(
        f"/v1/patients/{pid}/patient_attachments?q[]=patient_id:={pid}", auth=tenant.auth
    )
    assert nested.status_code == 400


def test_links_keep_filters_and_walk_every_record_once(
    api: Api, tenant: Tenant, attachments: dict[str, Any]
) -> None:
    url: str | None = "/v1/patient_attachments?per_page=2&q[]=archived_at:*&sort=id:desc"
    seen: list[str] = []
    pages = 0
    while url:
        body = api.client.get(url, auth=tenant.auth).json()
        assert body["links"]["self"].startswith("http://testserver/")
        if pages:
            assert "previous" in body["links"]
        seen += [r["id"] for r in body["patient_attachments"]]
        url = body["links"].get("next")
        pages += 1
    assert pages == 3
    assert seen == sorted((v["id"] for v in attachments.values()), key=int, reverse=True)


def test_walking_pages_while_records_are_added_does_not_fail(
    api: Api, tenant: Tenant, attachments: dict[str, Any]
) -> None:
    url: str | None = "/v1/patient_attachments?per_page=1"
    seen: list[str] = []
    while url:
        response = api.client.get(url, auth=tenant.auth)
        assert response.status_code == 200
        seen += [r["id"] for r in response.json()["patient_attachments"]]
        url = response.json()["links"].get("next")
        if len(seen) < 3:
            api.upload(tenant, f"new{len(seen)}.txt", b"n")
    assert len(seen) == len(set(seen)) and len(seen) >= 4


def test_patient_filters(api: Api, tenant: Tenant) -> None:
    for first, dob in (("Grace", "1906-12-09"), ("Alan", "1912-06-23")):
        created = api.client.post(
            "/v1/patients",
            json={"first_name": first, "last_name": "X", "date_of_birth": dob},
            auth=tenant.auth,
        )
        assert created.status_code == 201

    def firsts(query: str) -> list[str]:
        body = api.client.get(f"/v1/patients?{query}", auth=tenant.auth).json()
        return [p["first_name"] for p in body["patients"]]

    assert firsts("q[]=first_name:~rac") == ["Grace"]
    assert firsts("q[]=date_of_birth:<1910-01-01") == ["Grace"]
    assert firsts("q[]=date_of_birth:?&sort=first_name") == ["Alan", "Grace"]
    assert firsts("sort=first_name:desc") == ["Grace", "Alan", "Ada"]
