"""The bucket: check (storage/base.py), and the S3 store's own set-up, ensure_bucket and
set_cors (storage/s3.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from clinifile.errors import StorageError, StorageUnavailable
from clinifile.storage.base import ObjectStore
from clinifile.storage.s3 import S3Store
from tests.storage.backends import Backend, scratch_bucket

BROWSER = "https://clinic.example"


def test_check_passes_for_the_bucket(store: ObjectStore) -> None:
    store.check()


def test_check_names_a_missing_bucket(backend: Backend) -> None:
    missing = scratch_bucket()

    with pytest.raises(StorageError, match=f"bucket '{missing}' does not exist"):
        backend.store(missing).check()


def test_check_refuses_wrong_credentials(backend: Backend) -> None:
    with pytest.raises(StorageError):
        backend.store(secret_access_key="not-" + backend.secret_access_key).check()


def test_check_is_storage_unavailable_when_nothing_answers(unreachable: ObjectStore) -> None:
    with pytest.raises(StorageUnavailable):
        unreachable.check()


def test_ensure_bucket_creates_a_missing_bucket_once(backend: Backend) -> None:
    if not backend.owned:
        pytest.skip(f"would create a bucket in the {backend.name} store's account")
    store = backend.store(scratch_bucket())
    try:
        store.ensure_bucket()
        store.ensure_bucket()
        store.check()
    finally:
        backend.client.delete_bucket(Bucket=store.bucket)


def test_ensure_bucket_keeps_an_existing_bucket_and_its_objects(
    backend: Backend, store: S3Store, prefix: str
) -> None:
    etag = backend.put(prefix + "a.bin", b"kept")

    store.ensure_bucket()

    info = store.head(prefix + "a.bin")
    assert info is not None and info.etag == etag


@contextmanager
def cors_restored(backend: Backend) -> Iterator[None]:
    """Puts the bucket's CORS rules back as they were (an operator's bucket has its own)."""
    try:
        before: dict[str, Any] | None = backend.client.get_bucket_cors(Bucket=backend.bucket)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "NoSuchCORSConfiguration":
            raise
        before = None
    try:
        yield
    finally:
        if before is None:
            backend.client.delete_bucket_cors(Bucket=backend.bucket)
        else:
            rules = {"CORSRules": before["CORSRules"]}
            backend.client.put_bucket_cors(Bucket=backend.bucket, CORSConfiguration=rules)


def preflight(store: S3Store, origin: str) -> httpx.Response:
    """What a browser asks before it POSTs a file to the bucket from a page of origin."""
    return httpx.options(
        store.bucket_url,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
        timeout=30,
    )


def test_set_cors_lets_the_origin_preflight_a_post(backend: Backend, store: S3Store) -> None:
    with cors_restored(backend):
        store.set_cors([BROWSER])

        allowed = preflight(store, BROWSER)
        other = preflight(store, "https://elsewhere.example")

    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] in {BROWSER, "*"}
    assert "POST" in allowed.headers["access-control-allow-methods"]
    assert other.headers.get("access-control-allow-origin") is None
