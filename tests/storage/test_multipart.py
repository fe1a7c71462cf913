"""The contract of multipart uploads and of the copy of large objects in parts
(storage/base.py): each promise once, against each backend. Parts are 5 MiB (S3's smallest
but the last)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import httpx
import pytest

from clinifile.errors import ObjectNotFound, PreconditionFailed, StorageError
from clinifile.storage.base import ObjectStore
from tests.factories import wait_for
from tests.storage.backends import Backend
from tests.storage.test_objects import DISPOSITION, PDF, peak_memory

MIB = 1024 * 1024
PART = 5 * MIB


@pytest.fixture
def upload(store: ObjectStore, prefix: str) -> Iterator[tuple[str, str]]:
    """A multipart upload of this test's own (key, upload id), aborted afterwards."""
    key = prefix + "scan.mp4"
    upload_id = store.create_multipart(key, content_type="video/mp4")
    yield key, upload_id
    store.abort_multipart(key, upload_id)


def _send(store: ObjectStore, key: str, upload_id: str, number: int, data: bytes) -> str:
    url = store.presign_upload_part(key, upload_id, number, expires_in=300)
    answer = httpx.put(url, content=data, timeout=60)
    assert answer.status_code == 200, answer.text
    return answer.headers["etag"].strip('"')


def test_parts_sent_by_presigned_puts_complete_into_the_object(
    store: ObjectStore, upload: tuple[str, str]
) -> None:
    key, upload_id = upload
    data = os.urandom(PART), os.urandom(MIB)
    etags = [_send(store, key, upload_id, n, d) for n, d in ((2, data[1]), (1, data[0]))][::-1]
    assert store.head(key) is None  # nothing visible before it completes

    etag = store.complete_multipart(key, upload_id, [(2, etags[1]), (1, etags[0])])

    info = store.head(key)
    assert info is not None
    assert (info.etag, info.size, info.content_type) == (etag, PART + MIB, "video/mp4")
    assert b"".join(store.iter_chunks(key, if_match=etag, chunk_size=MIB)) == b"".join(data)
    with pytest.raises(ObjectNotFound):
        store.list_parts(key, upload_id)


def test_list_parts_gives_each_part_once_the_last_one_sent(
    store: ObjectStore, upload: tuple[str, str]
) -> None:
    key, upload_id = upload
    first = _send(store, key, upload_id, 1, b"a" * 100)
    second = _send(store, key, upload_id, 3, b"c" * 30)
    # SeaweedFS keeps a part's time in whole seconds and lists a resent part twice in no
    # order: only a resend in a later second can be told apart
    sent_in = int(time.time())
    wait_for(lambda: int(time.time()) > sent_in, timeout=3, interval=0.05)
    again = _send(store, key, upload_id, 1, b"b" * 200)

    parts = store.list_parts(key, upload_id)

    assert [(p.number, p.size, p.etag) for p in parts] == [(1, 200, again), (3, 30, second)]
    assert first != again


def test_a_forged_etag_completes_nothing(store: ObjectStore, upload: tuple[str, str]) -> None:
    key, upload_id = upload
    _send(store, key, upload_id, 1, os.urandom(100))
    with pytest.raises(StorageError):
        store.complete_multipart(key, upload_id, [(1, "0" * 32)])
    assert store.head(key) is None


def test_an_expired_part_url_is_refused(store: ObjectStore, upload: tuple[str, str]) -> None:
    key, upload_id = upload
    url = store.presign_upload_part(key, upload_id, 1, expires_in=1)
    time.sleep(2)  # past the signature's own expiry: nothing to poll for
    assert httpx.put(url, content=b"late", timeout=30).status_code == 403
    assert store.list_parts(key, upload_id) == []


def test_abort_drops_the_parts_and_refuses_their_urls(store: ObjectStore, prefix: str) -> None:
    key = prefix + "dropped.bin"
    upload_id = store.create_multipart(key, content_type=None)
    url = store.presign_upload_part(key, upload_id, 2, expires_in=300)
    _send(store, key, upload_id, 1, b"x" * 10)

    store.abort_multipart(key, upload_id)
    store.abort_multipart(key, upload_id)  # again: not an error

    assert httpx.put(url, content=b"late", timeout=30).status_code == 404
    with pytest.raises(ObjectNotFound):
        store.list_parts(key, upload_id)
    listed = [u.upload_id for page in store.iter_multipart_uploads(prefix) for u in page]
    assert upload_id not in listed and store.head(key) is None


def test_iter_multipart_uploads_lists_those_under_the_prefix(
    store: ObjectStore, prefix: str, upload: tuple[str, str]
) -> None:
    key, upload_id = upload
    elsewhere = store.create_multipart(prefix + "other/x.bin", content_type=None)
    try:
        listed = [u for page in store.iter_multipart_uploads(prefix + "scan") for u in page]
    finally:
        store.abort_multipart(prefix + "other/x.bin", elsewhere)
    assert [(u.key, u.upload_id) for u in listed] == [(key, upload_id)]
    assert listed[0].initiated is not None and listed[0].initiated.tzinfo is not None


def test_copy_multipart_copies_in_parts_inside_the_store(
    backend: Backend, store: ObjectStore, prefix: str
) -> None:
    data = os.urandom(2 * PART + 123)
    etag = backend.put(prefix + "big.bin", data)

    with peak_memory() as peak:
        copied = store.copy_multipart(
            prefix + "big.bin",
            prefix + "kept.pdf",
            if_match=etag,
            size=len(data),
            part_size=PART,
            content_type=PDF,
            content_disposition=DISPOSITION,
        )

    assert peak() < 1 * MIB  # the bytes never pass through this process
    info = store.head(prefix + "kept.pdf")
    assert info is not None
    assert (info.etag, info.size, info.content_type) == (copied, len(data), PDF)
    stored = backend.client.head_object(Bucket=backend.bucket, Key=prefix + "kept.pdf")
    assert stored["ContentDisposition"] == DISPOSITION
    assert b"".join(store.iter_chunks(prefix + "kept.pdf", if_match=copied, chunk_size=MIB)) == data


def test_copy_multipart_of_a_changed_source_writes_nothing(
    backend: Backend, store: ObjectStore, prefix: str
) -> None:
    etag = backend.put(prefix + "big.bin", os.urandom(PART + 1))
    backend.put(prefix + "big.bin", os.urandom(PART + 1))  # replaced since it was read

    with pytest.raises(PreconditionFailed):
        store.copy_multipart(
            prefix + "big.bin",
            prefix + "kept.bin",
            if_match=etag,
            size=PART + 1,
            part_size=PART,
            content_type=PDF,
            content_disposition=DISPOSITION,
        )

    assert store.head(prefix + "kept.bin") is None
    assert [u for page in store.iter_multipart_uploads(prefix) for u in page] == []
