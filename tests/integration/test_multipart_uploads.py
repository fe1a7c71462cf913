"""Resumable multipart uploads (issue 17) against the real SeaweedFS, on SQLite and
PostgreSQL: the happy path to a processed, downloadable attachment, and every hostile turn
answered with its documented 4xx, nothing stored or counted wrongly."""

from __future__ import annotations

import hashlib
import os
import time
from typing import Any

import httpx
import pytest

from clinifile.db import multipart_uploads as uploads_db
from clinifile.db.models import Account
from tests.factories import Api, Tenant, make_tenant
from tests.objects import list_keys

MiB = 1024 * 1024
PART = 5 * MiB
UPLOADS = "/v1/attachment_multipart_uploads"


def _open(api: Api, tenant: Tenant, size: int, **extra: Any) -> httpx.Response:
    body = {"filename": "gait study.mp4", "size": size, "content_type": "video/mp4", **extra}
    return api.client.post(
        f"/v1/patients/{tenant.patient_id}/attachment_multipart_uploads",
        json=body,
        auth=tenant.auth,
    )


def _opened(api: Api, tenant: Tenant, size: int) -> dict[str, Any]:
    response = _open(api, tenant, size)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def _urls(api: Api, tenant: Tenant, upload: dict[str, Any], numbers: list[int]) -> dict[str, str]:
    response = api.client.post(
        f"{UPLOADS}/{upload['id']}/part_urls", json={"numbers": numbers}, auth=tenant.auth
    )
    assert response.status_code == 200, response.text
    assert response.json()["expires_in"] == 3600
    return response.json()["urls"]  # type: ignore[no-any-return]


def _put(api: Api, tenant: Tenant, upload: dict[str, Any], number: int, data: bytes) -> str:
    url = _urls(api, tenant, upload, [number])[str(number)]
    stored = httpx.put(url, content=data, timeout=60)
    assert stored.status_code == 200, stored.text
    return stored.headers["etag"].strip('"')


def _complete(
    api: Api, tenant: Tenant, upload: dict[str, Any], parts: list[tuple[int, str]]
) -> httpx.Response:
    body = {"parts": [{"number": n, "etag": e} for n, e in parts]}
    return api.client.post(f"{UPLOADS}/{upload['id']}/complete", json=body, auth=tenant.auth)


def _state(api: Api, upload: dict[str, Any]) -> str:
    with api.runtime.sessions() as session:
        row = session.get(uploads_db.MultipartUpload, int(upload["id"]))
        assert row is not None
        return row.state


def _used(api: Api, tenant: Tenant) -> int:
    with api.runtime.sessions() as session:
        account = session.get(Account, tenant.account_id)
        assert account is not None
        return account.storage_used_bytes


def _store_uploads(api: Api, tenant: Tenant) -> list[str]:
    store = api.runtime.store(tenant.region)
    return [u.key for page in store.iter_multipart_uploads(f"{tenant.account_id}/") for u in page]


def _temp_objects(api: Api, tenant: Tenant) -> list[str]:
    return list_keys(api.runtime.store(tenant.region), f"{tenant.account_id}/")


def test_a_file_in_parts_registers_processes_and_downloads_the_same(
    api: Api, tenant: Tenant
) -> None:
    data = b"\x00\x00\x00\x18ftypmp42" + os.urandom(2 * PART + MiB - 12)
    upload = _opened(api, tenant, len(data))
    prefix = f"{tenant.account_id}/patients/{tenant.patient_id}/attachments/temp/"
    assert upload["key"].startswith(prefix) and upload["key"].endswith("/gait study.mp4")
    assert (upload["part_size"], upload["parts"], upload["size"]) == (PART, 3, len(data))
    assert upload["url"] == api.runtime.store(tenant.region).bucket_url
    chunks = [data[i : i + PART] for i in range(0, len(data), PART)]
    # out of order, and part 2 sent twice: the store keeps the later one
    etags = {n: _put(api, tenant, upload, n, chunks[n - 1]) for n in (3, 1, 2)}
    etags[2] = _put(api, tenant, upload, 2, chunks[1])
    status = api.client.get(f"{UPLOADS}/{upload['id']}", auth=tenant.auth).json()
    assert [(p["number"], p["size"], p["etag"]) for p in status["uploaded"]] == [
        (1, PART, etags[1]),
        (2, PART, etags[2]),
        (3, MiB, etags[3]),
    ]
    done = _complete(api, tenant, upload, [(3, etags[3]), (1, etags[1]), (2, etags[2])])
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["upload_url"] == upload["url"] + upload["key"]
    assert body["size"] == len(data) and body["etag"].endswith("-3")
    assert _state(api, upload) == "completed" and _store_uploads(api, tenant) == []

    registered = api.register(tenant, body["upload_url"])
    assert registered.status_code == 201, registered.text
    api.process_all()
    record = api.get(tenant, registered.json()["id"])
    assert record["processing_completed"] is True and record["size"] == len(data)
    got = api.download(tenant, record["id"]).content
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(data).hexdigest()
    assert _used(api, tenant) == len(data)


def test_a_missing_part_is_422_and_the_upload_stays_open(api: Api, tenant: Tenant) -> None:
    upload = _opened(api, tenant, 2 * PART)
    first = _put(api, tenant, upload, 1, os.urandom(PART))
    listed_short = _complete(api, tenant, upload, [(1, first)])
    assert listed_short.status_code == 422
    assert "missing 2" in listed_short.json()["errors"]["parts"]
    not_sent = _complete(api, tenant, upload, [(1, first), (2, "0" * 32)])
    assert not_sent.status_code == 422
    assert "part 2 is not in the store" in not_sent.json()["errors"]["parts"]
    assert _state(api, upload) == "open"
    second = _put(api, tenant, upload, 2, os.urandom(PART))
    assert _complete(api, tenant, upload, [(1, first), (2, second)]).status_code == 200


def test_a_forged_etag_is_422_and_nothing_is_stored(api: Api, tenant: Tenant) -> None:
    upload = _opened(api, tenant, PART + 10)
    first = _put(api, tenant, upload, 1, os.urandom(PART))
    second = _put(api, tenant, upload, 2, os.urandom(10))
    forged = _complete(api, tenant, upload, [(1, first), (2, "f" * 32)])
    assert forged.status_code == 422
    assert "ETag" in forged.json()["errors"]["parts"]
    twice = _complete(api, tenant, upload, [(1, first), (1, first), (2, second)])
    assert twice.status_code == 422
    assert _temp_objects(api, tenant) == []
    assert _state(api, upload) == "open"


def test_parts_over_the_declared_size_abort_the_upload(api: Api, tenant: Tenant) -> None:
    upload = _opened(api, tenant, PART + 10)
    first = _put(api, tenant, upload, 1, os.urandom(PART))
    larger = _put(api, tenant, upload, 2, os.urandom(PART))  # declared: 10 bytes
    answer = _complete(api, tenant, upload, [(1, first), (2, larger)])
    assert answer.status_code == 422
    assert "declared" in answer.json()["errors"]["size"]
    assert _state(api, upload) == "aborted"
    assert _temp_objects(api, tenant) == [] and _store_uploads(api, tenant) == []
    again = _complete(api, tenant, upload, [(1, first), (2, larger)])
    assert again.status_code == 409
    assert _used(api, tenant) == 0


def test_a_part_larger_than_part_size_is_refused(api: Api, tenant: Tenant) -> None:
    upload = _opened(api, tenant, 2 * PART)
    first = _put(api, tenant, upload, 1, os.urandom(PART + 1))
    second = _put(api, tenant, upload, 2, os.urandom(PART - 1))  # the sum is as declared
    answer = _complete(api, tenant, upload, [(1, first), (2, second)])
    assert answer.status_code == 422 and "part 1" in answer.json()["errors"]["size"]
    assert _temp_objects(api, tenant) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"filename": "a.mp4", "size": 0}, "size"),
        ({"filename": "a.mp4", "size": -5}, "size"),
        ({"filename": "a.mp4", "size": "12"}, "size"),
        ({"filename": "a.mp4", "size": True}, "size"),
        ({"filename": "a.mp4", "size": 1.5}, "size"),
        ({"filename": "a.mp4", "size": 2**70}, "size"),
        ({"filename": "", "size": 10}, "filename"),
        ({"size": 10}, "filename"),
        (
            {"filename": "a.mp4", "size": 10, "content_type": "video/mp4\r\nX-Evil: 1"},
            "content_type",
        ),
        ({"filename": "a.mp4", "size": 6 * 1024**4}, "size"),
    ],
)
def test_malformed_or_oversized_opens_are_422(
    api: Api, tenant: Tenant, body: dict[str, Any], field: str
) -> None:
    response = api.client.post(
        f"/v1/patients/{tenant.patient_id}/attachment_multipart_uploads",
        json=body,
        auth=tenant.auth,
    )
    assert response.status_code == 422, response.text
    assert field in response.json()["errors"]
    assert _store_uploads(api, tenant) == []


def test_a_size_over_the_accounts_remaining_storage_is_422(api: Api) -> None:
    small = make_tenant(api.runtime, plan="trial", storage_limit_bytes=10 * MiB)
    response = _open(api, small, 10 * MiB + 1)
    assert response.status_code == 422
    assert "storage limit" in response.json()["errors"]["base"]
    assert _open(api, small, 10 * MiB).status_code == 201


def test_storage_used_meanwhile_is_checked_on_completion(api: Api) -> None:
    small = make_tenant(api.runtime, plan="trial", storage_limit_bytes=6 * MiB)
    upload = _opened(api, small, PART)
    etag = _put(api, small, upload, 1, os.urandom(PART))
    api.upload(small, "letter.txt", os.urandom(2 * MiB))  # registered meanwhile
    answer = _complete(api, small, upload, [(1, etag)])
    assert answer.status_code == 422 and "storage limit" in answer.json()["errors"]["base"]
    assert _state(api, upload) == "aborted"


def test_another_accounts_upload_is_404_and_untouched(
    api: Api, tenant: Tenant, other_tenant: Tenant
) -> None:
    upload = _opened(api, tenant, PART)
    etag = _put(api, tenant, upload, 1, os.urandom(PART))
    base = f"{UPLOADS}/{upload['id']}"
    them = other_tenant.auth
    assert api.client.get(base, auth=them).status_code == 404
    assert api.client.post(f"{base}/part_urls", json={"numbers": [1]}, auth=them).status_code == 404
    body = {"parts": [{"number": 1, "etag": etag}]}
    assert api.client.post(f"{base}/complete", json=body, auth=them).status_code == 404
    assert api.client.delete(base, auth=them).status_code == 404
    for path in ("/v1/attachment_multipart_uploads/abc", f"{UPLOADS}/99999999999"):
        assert api.client.get(path, auth=tenant.auth).json() == {"message": "Not found"}
    # another account's patient cannot be uploaded for
    assert (
        _open(
            api, Tenant(tenant.account_id, other_tenant.patient_id, tenant.key, "au1"), 10
        ).status_code
        == 404
    )
    assert _state(api, upload) == "open"
    done = _complete(api, tenant, upload, [(1, etag)])
    assert done.status_code == 200
    # the completed object is this patient's: registering it for another patient is refused
    other_patient = api.client.post(
        "/v1/patients", json={"first_name": "B", "last_name": "C"}, auth=tenant.auth
    ).json()["id"]
    wrong = api.register(tenant, done.json()["upload_url"], patient_id=int(other_patient))
    assert wrong.status_code == 422
    assert api.register(other_tenant, done.json()["upload_url"]).status_code == 422


def test_complete_after_abort_is_409_and_its_urls_are_refused(api: Api, tenant: Tenant) -> None:
    upload = _opened(api, tenant, PART)
    url = _urls(api, tenant, upload, [1])["1"]
    etag = _put(api, tenant, upload, 1, os.urandom(PART))
    assert api.client.delete(f"{UPLOADS}/{upload['id']}", auth=tenant.auth).status_code == 204
    assert _complete(api, tenant, upload, [(1, etag)]).status_code == 409
    assert api.client.delete(f"{UPLOADS}/{upload['id']}", auth=tenant.auth).status_code == 409
    assert api.client.get(f"{UPLOADS}/{upload['id']}", auth=tenant.auth).status_code == 409
    late = api.client.post(
        f"{UPLOADS}/{upload['id']}/part_urls", json={"numbers": [1]}, auth=tenant.auth
    )
    assert late.status_code == 409
    assert httpx.put(url, content=b"late", timeout=30).status_code == 404  # NoSuchUpload
    assert _temp_objects(api, tenant) == [] and _store_uploads(api, tenant) == []


def test_complete_twice_is_409_the_second_time(api: Api, tenant: Tenant) -> None:
    upload = _opened(api, tenant, PART)
    etag = _put(api, tenant, upload, 1, os.urandom(PART))
    assert _complete(api, tenant, upload, [(1, etag)]).status_code == 200
    assert _complete(api, tenant, upload, [(1, etag)]).status_code == 409


def test_an_expired_part_url_is_refused_by_the_store(api: Api, tenant: Tenant) -> None:
    upload = _opened(api, tenant, PART)
    store = api.runtime.store(tenant.region)
    with api.runtime.sessions() as session:
        row = session.get(uploads_db.MultipartUpload, int(upload["id"]))
        assert row is not None
        url = store.presign_upload_part(row.object_key, row.store_upload_id, 1, expires_in=1)
    time.sleep(2)  # the URL's own clock: it must be past its expiry, nothing to poll
    refused = httpx.put(url, content=os.urandom(PART), timeout=60)
    assert refused.status_code == 403 and "expired" in refused.text
    assert api.client.get(f"{UPLOADS}/{upload['id']}", auth=tenant.auth).json()["uploaded"] == []


@pytest.mark.parametrize(
    "body",
    [
        {"numbers": []},
        {"numbers": [0]},
        {"numbers": [3]},  # the upload has 2 parts
        {"numbers": [10001]},
        {"numbers": list(range(1, 102))},
        {"numbers": ["1"]},
        {"numbers": "1"},
        {},
    ],
)
def test_malformed_part_url_requests_are_422(
    api: Api, tenant: Tenant, body: dict[str, Any]
) -> None:
    upload = _opened(api, tenant, 2 * PART)
    response = api.client.post(f"{UPLOADS}/{upload['id']}/part_urls", json=body, auth=tenant.auth)
    assert response.status_code == 422, response.text
    assert "numbers" in response.json()["errors"]


@pytest.mark.parametrize(
    "body",
    [
        {"parts": []},
        {"parts": [{"number": 1}]},
        {"parts": [{"number": 0, "etag": "x"}]},
        {"parts": [{"number": 1, "etag": ""}]},
        {"parts": "all"},
        {},
    ],
)
def test_malformed_completions_are_422(api: Api, tenant: Tenant, body: dict[str, Any]) -> None:
    upload = _opened(api, tenant, PART)
    response = api.client.post(f"{UPLOADS}/{upload['id']}/complete", json=body, auth=tenant.auth)
    assert response.status_code == 422, response.text
    assert _state(api, upload) == "open"
