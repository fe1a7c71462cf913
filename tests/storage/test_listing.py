"""The contract of many objects: iter_keys and delete_many (storage/base.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from clinifile.errors import StorageError
from clinifile.storage.base import ObjectStore
from tests.objects import list_keys
from tests.storage.backends import Backend

# past one page: S3 lists and deletes at most 1,000 keys a request
MANY = 1005


def test_iter_keys_pages_past_1000_keys(backend: Backend, store: ObjectStore, prefix: str) -> None:
    keys = [f"{prefix}many/{n:04d}.bin" for n in range(MANY)]
    backend.put_many([*keys, f"{prefix}many.bin", f"{prefix}other/0.bin"], b"12345")
    # timezone-aware (comparing a naive one raises), and recent by a clock near ours
    started = datetime.now(UTC) - timedelta(minutes=5)

    pages = list(store.iter_keys(prefix + "many/"))

    assert len(pages) > 1
    assert all(len(page) <= 1000 for page in pages)
    found = [info for page in pages for info in page]
    assert sorted(info.key for info in found) == keys
    assert {info.size for info in found} == {5}
    assert all(info.etag and '"' not in info.etag for info in found)
    assert all(info.last_modified and info.last_modified > started for info in found)


def test_delete_many_removes_more_than_1000_keys(
    backend: Backend, store: ObjectStore, prefix: str
) -> None:
    """S3 refuses more than 1,000 keys in one request. Objects at every 50th key and on
    both sides of the 1,000th are enough to show each request's keys go (uploading all
    1,005 would double this test's CPU); the other keys name no object, which is fine."""
    keys = [f"{prefix}{n:04d}.bin" for n in range(MANY)]
    backend.put_many(keys[n] for n in sorted({*range(0, MANY, 50), 998, 999, 1001, MANY - 1}))

    store.delete_many(key for key in keys)

    assert list_keys(store, prefix) == []


def test_delete_many_ignores_missing_keys(
    backend: Backend, store: ObjectStore, prefix: str
) -> None:
    backend.put_many([prefix + "a.bin", prefix + "b.bin"])

    store.delete_many([prefix + "a.bin", prefix + "missing.bin", prefix + "b.bin"])
    store.delete_many([prefix + "a.bin"])

    assert list_keys(store, prefix) == []


def test_delete_many_of_no_keys_sends_nothing(unreachable: ObjectStore) -> None:
    unreachable.delete_many([])


def test_delete_many_names_the_keys_the_store_refused(
    backend: Backend, store: ObjectStore, prefix: str
) -> None:
    if backend.refused_key is None:
        pytest.skip(f"no key is known that the {backend.name} store refuses to delete")
    backend.put_many([prefix + "a.bin", prefix + "b.bin"])
    refused = prefix + backend.refused_key

    with pytest.raises(StorageError, match=re.escape(repr(refused))):
        store.delete_many([prefix + "a.bin", refused, prefix + "b.bin"])

    assert list_keys(store, prefix) == []
