"""The contract of presigned URLs: the store itself enforces a POST's policy and a GET's
expiry (storage/base.py). Raw HTTP, as a browser or a client sends it."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from urllib.parse import quote

import httpx

from clinifile.storage.base import ObjectStore, PresignedPost
from tests.objects import list_keys
from tests.storage.backends import Backend

MAX_BYTES = 1000
PDF = "application/pdf"
DISPOSITION = "attachment; filename*=UTF-8''referral%20letter.pdf"


def post(presigned: PresignedPost, filename: str, content: bytes, **fields: str) -> httpx.Response:
    """The multipart POST a browser sends: every field (some changed), then the file."""
    data = {**presigned.fields, **fields}
    return httpx.post(presigned.url, data=data, files={"file": (filename, content)}, timeout=30)


def refused_within(seconds: float, attempt: Callable[[], httpx.Response]) -> httpx.Response:
    """The first answer that is not a success, trying until the deadline."""
    deadline = time.monotonic() + seconds
    while True:
        answer = attempt()
        if not answer.is_success:
            return answer
        assert time.monotonic() < deadline, f"still {answer.status_code} after {seconds}s"
        time.sleep(0.2)


def test_bucket_url_plus_key_names_the_object(store: ObjectStore, prefix: str) -> None:
    key = prefix + "a.pdf"

    assert store.bucket_url.endswith("/")
    assert store.presign_post(prefix, MAX_BYTES, expires_in=60).url == store.bucket_url
    url = store.presign_get(key, content_disposition=DISPOSITION, content_type=PDF, expires_in=60)
    assert url.startswith(store.bucket_url + quote(key) + "?")


def test_presigned_post_stores_files_privately_under_the_prefix(
    store: ObjectStore, prefix: str
) -> None:
    presigned = store.presign_post(prefix, MAX_BYTES, expires_in=60)
    assert presigned.fields["key"] == prefix + "${filename}"

    for filename, size in [("one byte.bin", 1), ("the most.bin", MAX_BYTES)]:
        answer = post(presigned, filename, b"x" * size)
        assert answer.status_code == 201, answer.text
        assert f"<Key>{prefix}{filename}</Key>" in answer.text
        info = store.head(prefix + filename)
        assert info is not None and info.size == size
        assert httpx.get(store.bucket_url + quote(prefix + filename)).status_code == 403


def test_presigned_post_refuses_a_file_over_max_bytes(store: ObjectStore, prefix: str) -> None:
    presigned = store.presign_post(prefix, MAX_BYTES, expires_in=60)

    answer = post(presigned, "big.bin", b"x" * (MAX_BYTES + 1))

    assert answer.status_code == 400
    assert "EntityTooLarge" in answer.text
    assert list_keys(store, prefix) == []


def test_presigned_post_refuses_an_empty_file(store: ObjectStore, prefix: str) -> None:
    presigned = store.presign_post(prefix, MAX_BYTES, expires_in=60)

    assert post(presigned, "empty.pdf", b"").status_code == 400
    assert list_keys(store, prefix) == []


def test_presigned_post_refuses_a_key_outside_the_prefix(store: ObjectStore, prefix: str) -> None:
    presigned = store.presign_post(prefix + "mine/", MAX_BYTES, expires_in=60)

    answer = post(presigned, "a.pdf", b"x", key=prefix + "theirs/a.pdf")

    assert answer.status_code == 403
    assert list_keys(store, prefix) == []


def test_presigned_post_refuses_a_changed_acl(store: ObjectStore, prefix: str) -> None:
    presigned = store.presign_post(prefix, MAX_BYTES, expires_in=60)

    assert post(presigned, "a.pdf", b"x", acl="public-read").status_code == 403
    assert list_keys(store, prefix) == []


def test_presigned_post_refuses_a_changed_success_action_status(
    store: ObjectStore, prefix: str
) -> None:
    presigned = store.presign_post(prefix, MAX_BYTES, expires_in=60)

    assert post(presigned, "a.pdf", b"x", success_action_status="200").status_code == 403
    assert list_keys(store, prefix) == []


def test_presigned_post_refuses_a_tampered_policy(store: ObjectStore, prefix: str) -> None:
    presigned = store.presign_post(prefix, MAX_BYTES, expires_in=60)
    policy = json.loads(base64.b64decode(presigned.fields["policy"]))
    for condition in policy["conditions"]:
        if isinstance(condition, list) and condition[0] == "content-length-range":
            condition[2] = 10 * 1024**4
    forged = base64.b64encode(json.dumps(policy).encode()).decode()

    answer = post(presigned, "big.bin", b"x" * (MAX_BYTES + 1), policy=forged)

    assert answer.status_code == 403
    assert list_keys(store, prefix) == []


def test_presigned_post_refuses_a_tampered_signature(store: ObjectStore, prefix: str) -> None:
    presigned = store.presign_post(prefix, MAX_BYTES, expires_in=60)
    signature = presigned.fields["x-amz-signature"]
    forged = ("0" if signature[0] != "0" else "1") + signature[1:]

    assert post(presigned, "a.pdf", b"x", **{"x-amz-signature": forged}).status_code == 403
    assert list_keys(store, prefix) == []


def test_presigned_post_is_refused_after_it_expires(store: ObjectStore, prefix: str) -> None:
    presigned = store.presign_post(prefix, MAX_BYTES, expires_in=1)

    answer = refused_within(15, lambda: post(presigned, "a.pdf", b"x"))

    assert answer.status_code == 403
    assert "expired" in answer.text.lower()


def test_presigned_get_answers_the_bytes_with_the_requested_headers(
    backend: Backend, store: ObjectStore, prefix: str
) -> None:
    backend.put(prefix + "a.bin", b"%PDF-1.4 hello", content_type="application/octet-stream")

    url = store.presign_get(
        prefix + "a.bin", content_disposition=DISPOSITION, content_type=PDF, expires_in=60
    )
    answer = httpx.get(url, timeout=30)

    assert answer.status_code == 200
    assert answer.content == b"%PDF-1.4 hello"
    assert answer.headers["content-type"] == PDF
    assert answer.headers["content-disposition"] == DISPOSITION


def test_presigned_get_is_refused_after_it_expires(
    backend: Backend, store: ObjectStore, prefix: str
) -> None:
    backend.put(prefix + "a.bin", b"hello")
    url = store.presign_get(
        prefix + "a.bin", content_disposition=DISPOSITION, content_type=PDF, expires_in=1
    )

    answer = refused_within(15, lambda: httpx.get(url, timeout=30))

    assert answer.status_code == 403
    assert b"hello" not in answer.content
