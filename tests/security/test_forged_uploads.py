"""Forged registrations (step 3): another account's or patient's upload, a made-up or
replayed temp id, and every hostile shape of upload_url are refused with
`422 temp_attachment_url is invalid`, and no row and no object changes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest

from clinifile.runtime import Runtime
from clinifile.services import accounts
from clinifile.services.uploads import issue_temp_id
from tests import samples
from tests.factories import Api, Tenant, make_tenant, s3_post, upload_url
from tests.security.snapshot import snapshot

INVALID = {"message": "Validation Failed", "errors": {"temp_attachment_url": "is invalid"}}


def _uploaded(api: Api, tenant: Tenant, name: str = "a.pdf") -> tuple[dict[str, Any], str]:
    post = api.presign(tenant)
    assert s3_post(post, name, samples.pdf()).status_code == 201
    return post, upload_url(post, name)


def _assert_refused_and_nothing_changed(api: Api, tenant: Tenant, url: str) -> None:
    before = snapshot(api.runtime)
    response = api.register(tenant, url)
    assert response.status_code == 422, response.text
    assert response.json() == INVALID
    assert snapshot(api.runtime) == before


def test_refuses_another_accounts_upload(api: Api, tenant: Tenant, other_tenant: Tenant) -> None:
    post, _ = _uploaded(api, other_tenant)
    # even naming the other account's own patient: the key's account must be the caller's
    _assert_refused_and_nothing_changed(api, tenant, upload_url(post, "a.pdf"))
    response = api.register(tenant, upload_url(post, "a.pdf"), patient_id=other_tenant.patient_id)
    assert response.status_code == 422
    assert "patient_id" in response.json()["errors"]


def test_refuses_another_patients_upload(api: Api, tenant: Tenant, runtime: Runtime) -> None:
    second = accounts.create_patient(
        runtime, account_id=tenant.account_id, first_name="B", last_name="C"
    )
    post = api.presign(tenant, patient_id=second)
    assert s3_post(post, "a.pdf", samples.pdf()).status_code == 201
    _assert_refused_and_nothing_changed(api, tenant, upload_url(post, "a.pdf"))


def test_refuses_made_up_temp_id(api: Api, tenant: Tenant) -> None:
    post, url = _uploaded(api, tenant)
    temp_id = post["fields"]["key"].split("/")[-2]
    forged = "0" * len(temp_id)
    _assert_refused_and_nothing_changed(api, tenant, url.replace(temp_id, forged))


def test_refuses_temp_id_issued_to_another_patient_even_when_the_object_exists(
    api: Api, tenant: Tenant, runtime: Runtime
) -> None:
    second = accounts.create_patient(
        runtime, account_id=tenant.account_id, first_name="B", last_name="C"
    )
    foreign_id = issue_temp_id(runtime.secret, tenant.account_id, second)
    key = f"{tenant.account_id}/patients/{tenant.patient_id}/attachments/temp/{foreign_id}/a.pdf"
    # planted with the store's own credentials: the right prefix, but a temp id not ours
    store = runtime.store("au1")
    store._client.put_object(Bucket=store.bucket, Key=key, Body=b"%PDF-1.4")  # type: ignore[attr-defined]
    _assert_refused_and_nothing_changed(api, tenant, store.bucket_url + key)


def test_refuses_object_that_was_never_uploaded(api: Api, tenant: Tenant) -> None:
    post = api.presign(tenant)
    _assert_refused_and_nothing_changed(api, tenant, upload_url(post, "never.pdf"))


def test_refuses_reused_upload(api: Api, tenant: Tenant) -> None:
    _, url = _uploaded(api, tenant)
    assert api.register(tenant, url).status_code == 201
    _assert_refused_and_nothing_changed(api, tenant, url)
    _assert_refused_and_nothing_changed(api, tenant, url.replace("/a.pdf", "%2Fa.pdf"))


def test_refuses_reused_upload_after_processing(api: Api, tenant: Tenant) -> None:
    _, url = _uploaded(api, tenant)
    assert api.register(tenant, url).status_code == 201
    api.process_all()
    _assert_refused_and_nothing_changed(api, tenant, url)


def _pad_key(key: str, size: int) -> str:
    prefix, name = key.rsplit("/", 1)
    return f"{prefix}/{'a' * (size - len(prefix) - 1 - len(name))}{name}"


MUTATIONS: dict[str, Callable[[str, Runtime], str]] = {
    "other host": lambda u, _: u.replace("127.0.0.1", "localhost"),
    "other scheme": lambda u, _: u.replace("http://", "https://"),
    "other port": lambda u, _: u.replace("127.0.0.1:", "127.0.0.1:1"),
    "other bucket": lambda u, rt: u.replace(
        rt.settings.region("au1").bucket, rt.settings.region("uk1").bucket
    ),
    "query string": lambda u, _: u + "?versionId=1",
    "fragment": lambda u, _: u + "#x",
    "dot dot": lambda u, _: u.replace("/a.pdf", "/../a.pdf"),
    "encoded dot dot": lambda u, _: u.replace("/a.pdf", "/%2e%2e/a.pdf"),
    "double encoding": lambda u, rt: (
        rt.store("au1").bucket_url
        + quote(quote(u.removeprefix(rt.store("au1").bucket_url), safe=""), safe="")
    ),
    "unicode look-alike slash": lambda u, _: u.replace("/a.pdf", "\u2215a.pdf"),
    "fullwidth slash": lambda u, _: u.replace("/a.pdf", "\uff0fa.pdf"),
    "fullwidth dots": lambda u, _: u.replace("/a.pdf", "/\uff0e\uff0e/a.pdf"),
    "one-dot leaders": lambda u, _: u.replace("/a.pdf", "/\u2024\u2024/a.pdf"),
    "cyrillic look-alike in the temp path": lambda u, _: u.replace("/temp/", "/t\u0435mp/"),
    "encoded slash before the file": lambda u, _: u.replace("/a.pdf", "%2F..%2Fa.pdf"),
    "backslash dot dot": lambda u, _: u.replace("/a.pdf", "/..\\a.pdf"),
    "user info": lambda u, _: u.replace("http://", "http://evil@"),
    "upper-case scheme and host": lambda u, _: u.replace("http://127.0.0.1", "HTTP://127.0.0.1"),
    "ipv6 loopback": lambda u, _: u.replace("127.0.0.1", "[::1]"),
    "other account id in the path": lambda u, _: u.replace("/patients/", "0/patients/", 1),
    "leading space": lambda u, _: " " + u,
    "trailing newline": lambda u, _: u + "\n",
    "crlf injection": lambda u, _: u.replace("a.pdf", "a.pdf\r\nX-Evil: 1"),
    "invalid utf-8 percent-encoding": lambda u, _: u.replace("a.pdf", "a%ff.pdf"),
    "key of 1025 bytes": lambda u, rt: (
        rt.store("au1").bucket_url + _pad_key(u.removeprefix(rt.store("au1").bucket_url), 1025)
    ),
    "too long": lambda u, _: u.replace("a.pdf", "a" * 1100 + ".pdf"),
    "garbage": lambda u, _: "not a url at all",
    "empty key": lambda u, rt: rt.store("au1").bucket_url,
    "nul byte": lambda u, _: u.replace("a.pdf", "a\x00.pdf"),
    "sub folder": lambda u, _: u.replace("/a.pdf", "/x/a.pdf"),
    "temp prefix only": lambda u, _: u.rsplit("/", 2)[0] + "/",
}


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_refuses_hostile_upload_url(api: Api, tenant: Tenant, mutation: str) -> None:
    _, url = _uploaded(api, tenant)
    _assert_refused_and_nothing_changed(api, tenant, MUTATIONS[mutation](url, api.runtime))
    # the genuine URL still works afterwards: nothing was used up
    assert api.register(tenant, url).status_code == 201


def test_unknown_patient_id_is_422_patient_id(api: Api, tenant: Tenant) -> None:
    _, url = _uploaded(api, tenant)
    for patient_id in ("999999", "99999999999999999999", "abc", ""):
        response = api.client.post(
            "/v1/patient_attachments",
            json={"patient_id": patient_id, "upload_url": url},
            auth=tenant.auth,
        )
        assert response.status_code == 422, patient_id
        assert "patient_id" in response.json()["errors"]


def test_foreign_account_in_another_region_is_refused(
    api: Api, tenant: Tenant, runtime: Runtime
) -> None:
    uk = make_tenant(runtime, region="uk1")
    post, _ = _uploaded(api, uk)
    _assert_refused_and_nothing_changed(api, tenant, upload_url(post, "a.pdf"))


def test_description_over_255_characters_is_422(api: Api, tenant: Tenant) -> None:
    _, url = _uploaded(api, tenant)
    response = api.register(tenant, url, description="x" * 256)
    assert response.status_code == 422
    assert "description" in response.json()["errors"]
