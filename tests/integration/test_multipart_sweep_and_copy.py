"""Around multipart uploads (issue 17), on SQLite and PostgreSQL with the real SeaweedFS:
the sweep aborts abandoned ones and leaves live ones alone, and the worker copies an object
over the single-copy limit in parts (UploadPartCopy), hashing it streamed as ever."""

from __future__ import annotations

import hashlib
import os
from datetime import timedelta

import pytest
from sqlalchemy import update

from clinifile.db.models import MultipartUpload
from clinifile.db.types import utcnow
from clinifile.worker import promotion
from clinifile.worker.sweep import sweep
from tests.factories import Api, Tenant
from tests.integration.test_multipart_uploads import _complete, _opened, _put, _state

MiB = 1024 * 1024
PART = 5 * MiB


def _store_upload_ids(api: Api, tenant: Tenant) -> set[str]:
    store = api.runtime.store(tenant.region)
    return {
        u.upload_id for page in store.iter_multipart_uploads(f"{tenant.account_id}/") for u in page
    }


def _expire(api: Api, upload_id: str) -> None:
    with api.runtime.transaction() as session:
        session.execute(
            update(MultipartUpload)
            .where(MultipartUpload.id == int(upload_id))
            .values(expires_at=utcnow() - timedelta(seconds=5))
        )


def test_the_sweep_aborts_expired_and_unknown_uploads_only(api: Api, tenant: Tenant) -> None:
    expired = _opened(api, tenant, 2 * PART)
    _put(api, tenant, expired, 1, os.urandom(PART))
    live = _opened(api, tenant, PART)
    _put(api, tenant, live, 1, os.urandom(PART))
    store = api.runtime.store(tenant.region)
    stray_key = f"{tenant.account_id}/patients/{tenant.patient_id}/attachments/temp/x/stray.bin"
    stray = store.create_multipart(stray_key, content_type=None)
    _expire(api, expired["id"])
    before = _store_upload_ids(api, tenant)
    assert len(before) == 3

    sweep(api.runtime, min_age_seconds=3600)  # the stray one is younger than the margin
    assert _state(api, expired) == "open" and _store_upload_ids(api, tenant) == before

    sweep(api.runtime, min_age_seconds=0)

    assert _state(api, expired) == "aborted"
    assert _state(api, live) == "open"
    left = _store_upload_ids(api, tenant)
    assert stray not in left and len(left) == 1
    assert (
        api.client.get(f"/v1/attachment_multipart_uploads/{live['id']}", auth=tenant.auth).json()[
            "uploaded"
        ][0]["number"]
        == 1
    )
    answer = api.client.get(f"/v1/attachment_multipart_uploads/{expired['id']}", auth=tenant.auth)
    assert answer.status_code == 409


def test_an_expired_upload_is_409_before_the_sweep_comes(api: Api, tenant: Tenant) -> None:
    upload = _opened(api, tenant, PART)
    etag = _put(api, tenant, upload, 1, os.urandom(PART))
    _expire(api, upload["id"])
    assert _complete(api, tenant, upload, [(1, etag)]).status_code == 409
    assert "expired" in _complete(api, tenant, upload, [(1, etag)]).json()["message"]


def test_an_object_over_the_single_copy_limit_is_copied_in_parts(
    api: Api, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the limits scaled down (5 GiB and 512 MiB in production): 11 MiB is copied in 2 parts
    monkeypatch.setattr(promotion, "SINGLE_COPY_MAX_BYTES", 6 * MiB)
    monkeypatch.setattr(promotion, "COPY_PART_BYTES", 6 * MiB)
    data = os.urandom(2 * PART + MiB)
    upload = _opened(api, tenant, len(data))
    parts = [(n, _put(api, tenant, upload, n, data[(n - 1) * PART : n * PART])) for n in (1, 2, 3)]
    done = _complete(api, tenant, upload, parts).json()
    registered = api.register(tenant, done["upload_url"])
    assert registered.status_code == 201, registered.text

    api.process_all()

    record = api.get(tenant, registered.json()["id"])
    assert record["processing_completed"] is True
    got = api.download(tenant, record["id"]).content
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(data).hexdigest()
    store = api.runtime.store(tenant.region)
    keys = [o for page in store.iter_keys(f"{tenant.account_id}/") for o in page]
    assert len(keys) == 1 and "/temp/" not in keys[0].key
    assert keys[0].etag.endswith("-2")  # copied in 2 parts of 6 MiB, not as uploaded (3)
    assert _store_upload_ids(api, tenant) == set()
