"""The contract of one object: head, iter_chunks, open, copy, delete (storage/base.py)."""

from __future__ import annotations

import os
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from clinifile.errors import ObjectNotFound, PreconditionFailed
from clinifile.storage.base import ObjectStore
from tests.storage.backends import Backend

KIB = 1024
MIB = 1024 * KIB
PDF = "application/pdf"
DISPOSITION = "attachment; filename*=UTF-8''referral%20letter.pdf"


@contextmanager
def peak_memory() -> Iterator[Callable[[], int]]:
    """The most memory Python allocated inside the block, in bytes (call after it)."""
    tracemalloc.start()
    peak = 0
    try:
        yield lambda: peak
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()


def test_head_of_a_missing_key_is_none(store: ObjectStore, prefix: str) -> None:
    assert store.head(prefix + "missing.pdf") is None


def test_head_of_a_key_the_store_cannot_hold_is_none(store: ObjectStore, prefix: str) -> None:
    assert store.head(prefix + "..\\a.pdf") is None
    assert store.head(prefix + "a\\..\\b.pdf") is None


def test_head_gives_size_unquoted_etag_and_content_type(
    backend: Backend, store: ObjectStore, prefix: str
) -> None:
    etag = backend.put(prefix + "a.pdf", b"%PDF-1.4 hello", content_type=PDF)

    info = store.head(prefix + "a.pdf")

    assert info is not None
    assert (info.key, info.size, info.etag, info.content_type) == (prefix + "a.pdf", 14, etag, PDF)
    assert '"' not in info.etag


def test_iter_chunks_yields_the_bytes_in_chunks_of_at_most_chunk_size(
    backend: Backend, store: ObjectStore, prefix: str
) -> None:
    data = os.urandom(300 * KIB)
    etag = backend.put(prefix + "a.bin", data)

    chunks = list(store.iter_chunks(prefix + "a.bin", if_match=etag, chunk_size=64 * KIB))

    assert len(chunks) > 1
    assert all(len(chunk) <= 64 * KIB for chunk in chunks)
    assert b"".join(chunks) == data


def test_iter_chunks_never_holds_the_whole_object_in_memory(
    backend: Backend, store: ObjectStore, prefix: str
) -> None:
    etag = backend.put(prefix + "big.bin", os.urandom(4 * MIB))

    with peak_memory() as peak:
        size = sum(
            len(chunk)
            for chunk in store.iter_chunks(prefix + "big.bin", if_match=etag, chunk_size=64 * KIB)
        )

    assert size == 4 * MIB
    assert peak() < 1 * MIB


def test_iter_chunks_of_a_replaced_object_is_precondition_failed(
    backend: Backend, store: ObjectStore, prefix: str
) -> None:
    old = backend.put(prefix + "a.bin", b"first")
    backend.put(prefix + "a.bin", b"second")

    chunks = store.iter_chunks(prefix + "a.bin", if_match=old, chunk_size=KIB)

    with pytest.raises(PreconditionFailed):
        next(chunks)


def test_iter_chunks_of_a_missing_key_is_object_not_found(store: ObjectStore, prefix: str) -> None:
    chunks = store.iter_chunks(prefix + "missing.bin", if_match="0" * 32, chunk_size=KIB)

    with pytest.raises(ObjectNotFound):
        next(chunks)


def test_open_gives_the_objects_info_and_its_bytes_in_chunks(
    backend: Backend, store: ObjectStore, prefix: str
) -> None:
    data = os.urandom(300 * KIB)
    etag = backend.put(prefix + "a.pdf", data, content_type=PDF)

    opened = store.open(prefix + "a.pdf", chunk_size=64 * KIB)

    assert opened is not None
    info, chunks = opened
    assert (info.key, info.size, info.etag, info.content_type) == (
        prefix + "a.pdf",
        len(data),
        etag,
        PDF,
    )
    received = list(chunks)
    assert len(received) > 1
    assert all(len(chunk) <= 64 * KIB for chunk in received)
    assert b"".join(received) == data


def test_open_of_a_missing_key_or_one_the_store_cannot_hold_is_none(
    store: ObjectStore, prefix: str
) -> None:
    assert store.open(prefix + "missing.pdf", chunk_size=KIB) is None
    assert store.open(prefix + "..\\a.pdf", chunk_size=KIB) is None


def test_open_reads_the_version_it_named_even_if_replaced_meanwhile(
    backend: Backend, store: ObjectStore, prefix: str
) -> None:
    first = os.urandom(2 * MIB)
    etag = backend.put(prefix + "a.bin", first)
    opened = store.open(prefix + "a.bin", chunk_size=64 * KIB)
    assert opened is not None
    info, chunks = opened
    head = next(chunks)

    backend.put(prefix + "a.bin", b"a replacement")

    assert info.etag == etag
    assert head + b"".join(chunks) == first


def test_open_never_holds_the_whole_object_in_memory(
    backend: Backend, store: ObjectStore, prefix: str
) -> None:
    backend.put(prefix + "big.bin", os.urandom(4 * MIB))

    with peak_memory() as peak:
        opened = store.open(prefix + "big.bin", chunk_size=64 * KIB)
        assert opened is not None
        size = sum(len(chunk) for chunk in opened[1])

    assert size == 4 * MIB
    assert peak() < 1 * MIB


def test_copy_stores_the_type_and_disposition_and_returns_the_copys_etag(
    backend: Backend, store: ObjectStore, prefix: str
) -> None:
    data = os.urandom(100 * KIB)
    etag = backend.put(prefix + "temp.bin", data)

    copied = store.copy(
        prefix + "temp.bin",
        prefix + "kept.pdf",
        if_match=etag,
        content_type=PDF,
        content_disposition=DISPOSITION,
    )

    info = store.head(prefix + "kept.pdf")
    assert info is not None
    assert (info.etag, info.size, info.content_type) == (copied, len(data), PDF)
    stored = backend.client.head_object(Bucket=backend.bucket, Key=prefix + "kept.pdf")
    assert stored["ContentDisposition"] == DISPOSITION
    chunks = store.iter_chunks(prefix + "kept.pdf", if_match=copied, chunk_size=64 * KIB)
    assert b"".join(chunks) == data


def test_copy_replaces_whatever_is_at_the_destination(
    backend: Backend, store: ObjectStore, prefix: str
) -> None:
    etag = backend.put(prefix + "temp.bin", b"the upload")
    backend.put(prefix + "kept.pdf", b"an earlier run's copy, longer", content_type="text/plain")

    copied = store.copy(
        prefix + "temp.bin",
        prefix + "kept.pdf",
        if_match=etag,
        content_type=PDF,
        content_disposition=DISPOSITION,
    )

    info = store.head(prefix + "kept.pdf")
    assert info is not None
    assert (info.etag, info.size, info.content_type) == (copied, len(b"the upload"), PDF)


def test_copy_never_passes_the_bytes_through_this_process(
    backend: Backend, store: ObjectStore, prefix: str
) -> None:
    etag = backend.put(prefix + "big.bin", os.urandom(4 * MIB))

    with peak_memory() as peak:
        store.copy(
            prefix + "big.bin",
            prefix + "copy.bin",
            if_match=etag,
            content_type=PDF,
            content_disposition=DISPOSITION,
        )

    assert peak() < 1 * MIB
    info = store.head(prefix + "copy.bin")
    assert info is not None and info.size == 4 * MIB


def test_copy_of_a_replaced_source_is_precondition_failed_and_writes_nothing(
    backend: Backend, store: ObjectStore, prefix: str
) -> None:
    old = backend.put(prefix + "temp.bin", b"first")
    backend.put(prefix + "temp.bin", b"second")

    with pytest.raises(PreconditionFailed):
        store.copy(
            prefix + "temp.bin",
            prefix + "kept.pdf",
            if_match=old,
            content_type=PDF,
            content_disposition=DISPOSITION,
        )

    assert store.head(prefix + "kept.pdf") is None


def test_copy_of_a_missing_source_is_object_not_found_and_writes_nothing(
    store: ObjectStore, prefix: str
) -> None:
    with pytest.raises(ObjectNotFound):
        store.copy(
            prefix + "missing.bin",
            prefix + "kept.pdf",
            if_match="0" * 32,
            content_type=PDF,
            content_disposition=DISPOSITION,
        )

    assert store.head(prefix + "kept.pdf") is None


def test_delete_removes_the_object(backend: Backend, store: ObjectStore, prefix: str) -> None:
    backend.put(prefix + "a.bin", b"x")

    store.delete(prefix + "a.bin")

    assert store.head(prefix + "a.bin") is None


def test_delete_of_a_missing_key_is_fine(store: ObjectStore, prefix: str) -> None:
    store.delete(prefix + "missing.bin")

    assert store.head(prefix + "missing.bin") is None
