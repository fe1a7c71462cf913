"""What the staff page and scripts need beyond Cliniko's shape (README "What clinifile adds"):
the rate limit's figures on every answer, unarchiving a file, the account's storage, viewing
a PDF or an image in the browser (and never anything a browser would run), a list order
that holds within one second, and patient search that ignores accents and case."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import text

from clinifile.runtime import Runtime
from tests import samples
from tests.factories import Api, Tenant, make_tenant


def _processed(api: Api, tenant: Tenant, name: str, content: bytes) -> dict[str, Any]:
    record = api.upload(tenant, name, content)
    api.process_all()
    return api.get(tenant, record["id"])


# --- X-RateLimit-Limit / X-RateLimit-Remaining ----------------------------------------------


def test_every_answer_to_a_key_tells_its_limit_and_what_remains(api: Api, tenant: Tenant) -> None:
    limit = api.runtime.settings.rate_limit_per_minute
    answers = [
        api.client.get("/v1/patients", auth=tenant.auth),  # 200
        api.client.get("/v1/patients/999999", auth=tenant.auth),  # 404
        api.client.post("/v1/patient_attachments", json={}, auth=tenant.auth),  # 422
        api.client.get("/v1/patients?q[]=nope:=1", auth=tenant.auth),  # 400
    ]
    assert [a.status_code for a in answers] == [200, 404, 422, 400]
    remaining = [int(a.headers["x-ratelimit-remaining"]) for a in answers]
    assert {a.headers["x-ratelimit-limit"] for a in answers} == {str(limit)}
    assert remaining == sorted(remaining, reverse=True) and remaining[0] < limit
    assert remaining[0] - remaining[-1] == 3


def test_an_answer_without_a_key_carries_no_rate_limit_figures(api: Api) -> None:
    answer = api.client.get("/v1/patients")
    assert answer.status_code == 401
    assert "x-ratelimit-limit" not in answer.headers


@pytest.mark.parametrize("settings_overrides", [{"rate_limit_per_minute": 2}])
def test_the_429_says_nothing_remains(api: Api, tenant: Tenant) -> None:
    statuses = [api.client.get("/v1/account", auth=tenant.auth) for _ in range(3)]
    assert [s.status_code for s in statuses] == [200, 200, 429]
    assert [s.headers["x-ratelimit-remaining"] for s in statuses] == ["1", "0", "0"]
    assert statuses[2].headers["x-ratelimit-limit"] == "2"
    assert "retry after" in statuses[2].json()["message"]


# --- unarchive ------------------------------------------------------------------------------


def test_an_archived_file_is_unarchived_back_into_the_list_and_audited(
    api: Api, tenant: Tenant
) -> None:
    record = _processed(api, tenant, "letter.pdf", samples.pdf())
    path = f"/v1/patient_attachments/{record['id']}"
    assert api.client.post(f"{path}/archive", auth=tenant.auth).status_code == 204
    listed = api.client.get("/v1/patient_attachments", auth=tenant.auth).json()
    assert listed["total_entries"] == 0

    back = api.client.post(f"{path}/unarchive", auth=tenant.auth)
    assert back.status_code == 200, back.text
    assert back.json()["archived_at"] is None and back.json()["filename"] == "letter.pdf"
    again = api.client.post(f"{path}/unarchive", auth=tenant.auth)  # idempotent
    assert again.status_code == 200
    listed = api.client.get("/v1/patient_attachments", auth=tenant.auth).json()
    assert [r["id"] for r in listed["patient_attachments"]] == [record["id"]]
    events = api.client.get(
        f"/v1/audit_events?sort=id&q[]=attachment_id:={record['id']}", auth=tenant.auth
    ).json()["audit_events"]
    assert [e["action"].removeprefix("patient_attachment.") for e in events] == [
        "create",
        "archive",
        "unarchive",
        "unarchive",
    ]


def test_unarchive_of_another_accounts_or_a_malformed_id_is_404(
    api: Api, tenant: Tenant, other_tenant: Tenant
) -> None:
    record = _processed(api, tenant, "letter.pdf", samples.pdf())
    path = f"/v1/patient_attachments/{record['id']}/unarchive"
    assert api.client.post(path, auth=other_tenant.auth).status_code == 404
    for bad in ("abc", "-1", "0", "99999999999999999999", "1%2F2"):
        answer = api.client.post(f"/v1/patient_attachments/{bad}/unarchive", auth=tenant.auth)
        assert answer.status_code == 404, bad
        assert answer.json() == {"message": "Not found"}
    assert api.client.get(path, auth=tenant.auth).status_code == 405
    assert api.client.post(path).status_code == 401


# --- GET /v1/account ------------------------------------------------------------------------


def test_the_account_tells_its_key_the_storage_used_and_left(api: Api, runtime: Runtime) -> None:
    trial = make_tenant(runtime, plan="trial", storage_limit_bytes=10_000)
    content = samples.pdf()
    _processed(api, trial, "a.pdf", content)
    answer = api.client.get("/v1/account", auth=trial.auth)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "id": str(trial.account_id),
        "name": "Test clinic",
        "plan": "trial",
        "storage_limit_bytes": 10_000,
        "storage_used_bytes": len(content),
        "storage_remaining_bytes": 10_000 - len(content),
        "max_file_size": runtime.settings.max_file_size_bytes,
        "links": {"self": "http://testserver/v1/account"},
    }


def test_a_paid_account_without_a_limit_has_no_remaining_figure(
    api: Api, tenant: Tenant, other_tenant: Tenant
) -> None:
    body = api.client.get("/v1/account", auth=tenant.auth).json()
    assert body["storage_limit_bytes"] is None and body["storage_remaining_bytes"] is None
    assert body["id"] == str(tenant.account_id)
    assert api.client.get("/v1/account", auth=other_tenant.auth).json()["id"] != body["id"]


def test_the_account_takes_no_writes_and_needs_a_key(api: Api, tenant: Tenant) -> None:
    for method in ("POST", "PATCH", "DELETE", "PUT"):
        assert api.client.request(method, "/v1/account", auth=tenant.auth).status_code == 405
    assert api.client.get("/v1/account").status_code == 401
    assert api.client.get("/v1/account/1", auth=tenant.auth).status_code == 404


# --- content?disposition=inline -------------------------------------------------------------


def _content(api: Api, tenant: Tenant, attachment_id: str, query: str) -> httpx.Response:
    return api.client.get(
        f"/v1/patient_attachments/{attachment_id}/content?{query}", auth=tenant.auth
    )


@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [("scan.pdf", samples.pdf(), "application/pdf"), ("x-ray.png", samples.png(), "image/png")],
)
def test_a_pdf_or_an_image_is_served_inline_to_view(
    api: Api, tenant: Tenant, name: str, content: bytes, content_type: str
) -> None:
    record = _processed(api, tenant, name, content)
    link = _content(api, tenant, record["id"], "disposition=inline&redirect=false")
    assert link.status_code == 200, link.text
    shown = httpx.get(link.json()["url"], timeout=30)
    assert shown.content == content
    assert shown.headers["content-type"] == content_type
    assert shown.headers["content-disposition"] == f"inline; filename*=UTF-8''{name}"
    # without the parameter: a download, as before
    query = parse_qs(urlsplit(str(api.download(tenant, record["id"]).url)).query)
    assert query["response-content-disposition"][0].startswith("attachment;")


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("page.html", b"<!doctype html><script>alert(document.domain)</script>"),
        ("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
        ("notes.txt", samples.TEXT),
    ],
)
def test_anything_else_is_never_served_inline(
    api: Api, tenant: Tenant, name: str, content: bytes
) -> None:
    record = _processed(api, tenant, name, content)
    refused = _content(api, tenant, record["id"], "disposition=inline")
    assert refused.status_code == 422
    assert "download it instead" in refused.json()["errors"]["disposition"]
    assert "location" not in refused.headers


def test_a_disposition_that_is_neither_is_400(api: Api, tenant: Tenant) -> None:
    record = _processed(api, tenant, "scan.pdf", samples.pdf())
    for bad in ("INLINE", "inline;x", "", "form-data"):
        answer = _content(api, tenant, record["id"], f"disposition={bad}")
        assert answer.status_code == 400, bad
        assert "disposition must be attachment or inline" in answer.json()["message"]


# --- a stable order -------------------------------------------------------------------------


def test_files_registered_in_the_same_second_keep_the_order_asked(
    api: Api, tenant: Tenant, runtime: Runtime
) -> None:
    ids = [api.upload(tenant, f"{i}.txt", b"x")["id"] for i in range(4)]
    with runtime.engine.begin() as conn:  # as when they all land in one second
        conn.execute(
            text("UPDATE attachments SET created_at = :t WHERE account_id = :a"),
            {"t": "2026-11-25 09:34:22", "a": tenant.account_id},
        )

    def order(sort: str, per_page: int = 2) -> list[str]:
        seen: list[str] = []
        url: str | None = f"/v1/patient_attachments?sort={sort}&per_page={per_page}"
        while url:
            body = api.client.get(url, auth=tenant.auth).json()
            seen += [r["id"] for r in body["patient_attachments"]]
            url = body["links"].get("next")
        return seen

    assert order("created_at:desc") == ids[::-1]
    assert order("created_at") == ids
    assert order("size:desc,created_at") == ids[::-1]  # the first sort's direction


# --- accent- and case-insensitive patient search -------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("last_name:~nunez", ["Núñez"]),
        ("last_name:~NÚÑ", ["Núñez"]),
        ("first_name:~soren", ["Søren"]),
        ("last_name:~strasse", ["Straße"]),
        ("last_name:~ZZ", []),
        ("last_name:~%", []),  # a LIKE wildcard is a character here, not a pattern
        ("last_name:=Núñez", ["Núñez"]),  # = stays exact
        ("last_name:=nunez", []),
    ],
)
def test_patients_are_found_ignoring_accents_and_case(
    api: Api, tenant: Tenant, query: str, expected: list[str]
) -> None:
    for first, last in (("José", "Núñez"), ("Søren", "Kierkegaard"), ("Karl", "Straße")):
        created = api.client.post(
            "/v1/patients", json={"first_name": first, "last_name": last}, auth=tenant.auth
        )
        assert created.status_code == 201
    body = api.client.get(f"/v1/patients?q[]={query}&sort=last_name", auth=tenant.auth).json()
    found = [p["last_name"] if "last" in query else p["first_name"] for p in body["patients"]]
    assert found == expected


def test_contains_ignores_case_on_every_database(api: Api, tenant: Tenant) -> None:
    record = api.upload(tenant, "a.txt", b"a", description="Referral from Dr Müller")
    for needle in ("referral", "REFERRAL", "dr mü"):
        body = api.client.get(
            f"/v1/patient_attachments?q[]=description:~{needle}", auth=tenant.auth
        ).json()
        assert [r["id"] for r in body["patient_attachments"]] == [record["id"]], needle
