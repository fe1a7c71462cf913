"""Downloads: a short-lived presigned GET (five minutes unless configured), served as an
attachment with the type detected from the bytes, and API answers that are never sniffed
or cached."""

from __future__ import annotations

import httpx
import pytest

from clinifile.runtime import Runtime
from tests import samples
from tests.factories import Api, Tenant, wait_for


def _location(api: Api, tenant: Tenant, attachment_id: str) -> httpx.Response:
    return api.client.get(
        f"/v1/patient_attachments/{attachment_id}/content",
        auth=tenant.auth,
        follow_redirects=False,
    )


def test_the_download_url_lives_five_minutes_and_serves_an_attachment(
    api: Api, tenant: Tenant
) -> None:
    # a PNG whose name claims PDF: the type served is the one detected from the bytes
    record = api.upload(tenant, "not really.pdf", samples.png())
    api.process_all()
    redirect = _location(api, tenant, record["id"])
    assert redirect.status_code == 303
    assert redirect.headers["cache-control"] == "no-store"
    assert redirect.headers["x-content-type-options"] == "nosniff"
    url = httpx.URL(redirect.headers["location"])
    assert url.params["X-Amz-Expires"] == "300"
    served = httpx.get(url, timeout=30)
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/png"
    assert served.headers["content-disposition"] == (
        "attachment; filename*=UTF-8''not%20really.pdf"
    )
    assert served.content == samples.png()


class TestShortExpiry:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, object]:
        return {"download_expires_seconds": 2}

    def test_an_expired_download_url_is_refused_by_the_store(
        self, api: Api, tenant: Tenant, runtime: Runtime
    ) -> None:
        record = api.upload(tenant, "a.pdf", samples.pdf())
        api.process_all()
        url = _location(api, tenant, record["id"]).headers["location"]
        assert httpx.URL(url).params["X-Amz-Expires"] == "2"
        assert httpx.get(url, timeout=30).status_code == 200
        expired = wait_for(
            lambda: (r := httpx.get(url, timeout=30)).status_code == 403 and r, timeout=15
        )
        assert samples.pdf() not in expired.content


def test_api_answers_are_never_sniffed_or_cached(api: Api, tenant: Tenant) -> None:
    record = api.upload(tenant, "a.pdf", samples.pdf())
    answers = [
        api.client.get(f"/v1/patient_attachments/{record['id']}", auth=tenant.auth),
        _location(api, tenant, record["id"]),  # 409: not processed yet
        api.client.get("/v1/patient_attachments/1/content", auth=("wrong", "")),
        api.client.post("/v1/patient_attachments", content=b"{", auth=tenant.auth),
        api.client.post("/v1/patient_attachments", json={}, auth=tenant.auth),
        api.client.get("/v1/audit_events", auth=tenant.auth),
    ]
    assert [a.status_code for a in answers] == [200, 409, 401, 400, 422, 200]
    for answer in answers:
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["content-type"] == "application/json"


def test_a_script_gets_the_download_url_as_json(api: Api, tenant: Tenant) -> None:
    record = api.upload(tenant, "a.pdf", samples.pdf())
    api.process_all()
    # a client that asks for JSON in general (as Cliniko's docs advise) still gets the 303
    path = f"/v1/patient_attachments/{record['id']}/content"
    json_please = {"Accept": "application/json"}
    redirect = api.client.get(path, auth=tenant.auth, headers=json_please, follow_redirects=False)
    assert redirect.status_code == 303
    answer = api.client.get(
        path + "?redirect=false", auth=tenant.auth, headers=json_please, follow_redirects=False
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["expires_in"] == 300
    assert httpx.get(body["url"], timeout=30).content == samples.pdf()


def test_the_page_is_served_under_a_strict_content_security_policy(
    api: Api, runtime: Runtime
) -> None:
    page = api.client.get("/app/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    bucket = httpx.URL(runtime.store("au1").bucket_url)
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert f"connect-src 'self' {bucket.scheme}://{bucket.netloc.decode()}" in policy
    assert f"frame-src {bucket.scheme}://{bucket.netloc.decode()}" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert page.headers["referrer-policy"] == "no-referrer"
    script = api.client.get("/app/app.js")
    assert script.headers["content-type"].startswith(("text/javascript", "application/javascript"))


def test_a_scripted_request_gets_no_basic_challenge(api: Api) -> None:
    plain = api.client.get("/v1/patients", auth=("wrong", ""))
    scripted = api.client.get(
        "/v1/patients", auth=("wrong", ""), headers={"X-Requested-With": "clinifile-app"}
    )
    assert plain.status_code == scripted.status_code == 401
    assert plain.headers["www-authenticate"] == 'Basic realm="clinifile"'
    assert "www-authenticate" not in scripted.headers
