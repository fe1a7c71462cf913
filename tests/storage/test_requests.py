"""The object requests S3Store sends itself (storage/s3_requests.py): keys of any characters,
refusals, and boto3's standard retries when the store answers 503 or cannot be reached."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from clinifile.errors import ObjectNotFound, StorageError, StorageUnavailable
from clinifile.storage.s3 import S3Store, make_client
from tests.storage.backends import Backend
from tests.storage.conftest import scratch_prefix

# characters a filename brings into a key: spaces, non-ASCII, and what URLs and S3's
# signatures treat specially
ODD = "referral letter ü é+%20=&;,'()!*~$@[].pdf"
SLOW_DOWN = (
    b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
)


def test_every_request_reaches_a_key_of_any_characters(
    backend: Backend, store: S3Store, prefix: str
) -> None:
    source, target = prefix + "in/" + ODD, prefix + "out/" + ODD
    etag = backend.put(source, b"%PDF-1.7 letter")

    info = store.head(source)
    assert info is not None and (info.size, info.etag) == (15, etag)
    opened = store.open(source, chunk_size=4)
    assert opened is not None and b"".join(opened[1]) == b"%PDF-1.7 letter"
    assert b"".join(store.iter_chunks(source, if_match=etag, chunk_size=4)) == b"%PDF-1.7 letter"
    copied = store.copy(
        source, target, if_match=etag, content_type="application/pdf", content_disposition="inline"
    )
    assert copied == etag
    store.delete(source)
    assert store.head(source) is None
    assert store.head(target) is not None


def test_wrong_credentials_are_a_refusal_not_an_outage(backend: Backend, prefix: str) -> None:
    backend.put(prefix + "kept.pdf", b"kept")
    stranger = backend.store(secret_access_key="not-the-secret")
    for request in (
        lambda: stranger.head(prefix + "kept.pdf"),
        lambda: stranger.open(prefix + "kept.pdf", chunk_size=4),
        lambda: stranger.delete(prefix + "kept.pdf"),
    ):
        with pytest.raises(StorageError) as refused:
            request()
        assert not isinstance(refused.value, StorageUnavailable | ObjectNotFound)
    assert backend.store().head(prefix + "kept.pdf") is not None


class Flaky(ThreadingHTTPServer):
    """Between the store and clinifile: answers the first `failures` requests 503 SlowDown,
    as a busy S3 does, and passes every other one on to the store unchanged."""

    def __init__(self, upstream: str, failures: int) -> None:
        self.upstream = urlsplit(upstream).netloc
        self.failures = failures
        self.requests = 0
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Forward)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Forward(BaseHTTPRequestHandler):
    server: Flaky
    protocol_version = "HTTP/1.1"

    def _any(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.server.lock:
            self.server.requests += 1
            fail = self.server.requests <= self.server.failures
        if fail:
            self.send_response(503)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(SLOW_DOWN)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(SLOW_DOWN)
            return
        upstream = http.client.HTTPConnection(self.server.upstream, timeout=30)
        # the Host header stays the one the request was signed for
        upstream.request(self.command, self.path, body=body, headers=dict(self.headers.items()))
        answer = upstream.getresponse()
        payload = answer.read()
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
        upstream.close()

    do_GET = do_PUT = do_DELETE = do_HEAD = _any

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def flaky(embedded_backend: Backend) -> Iterator[Flaky]:
    server = Flaky(embedded_backend.endpoint_url, failures=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _through(backend: Backend, flaky: Flaky) -> S3Store:
    client = make_client(
        flaky.url, backend.region, backend.access_key_id, backend.secret_access_key
    )
    return S3Store(client, backend.bucket)


@pytest.fixture
def own_prefix(embedded_backend: Backend) -> Iterator[str]:
    """A key prefix of this test's own in the embedded store, emptied afterwards."""
    yield from scratch_prefix(embedded_backend)


def test_a_503_is_retried_and_the_request_then_succeeds(
    embedded_backend: Backend, flaky: Flaky, own_prefix: str
) -> None:
    prefix = own_prefix
    etag = embedded_backend.put(prefix + "a.pdf", b"%PDF-1.7 a")
    store = _through(embedded_backend, flaky)
    for request in (
        lambda: store.head(prefix + "a.pdf"),
        lambda: b"".join(store.iter_chunks(prefix + "a.pdf", if_match=etag, chunk_size=64)),
        lambda: store.copy(
            prefix + "a.pdf",
            prefix + "b.pdf",
            if_match=etag,
            content_type="a/b",
            content_disposition="inline",
        ),
        lambda: store.delete(prefix + "a.pdf"),
    ):
        flaky.requests, flaky.failures = 0, 2
        request()
        assert flaky.requests == 3  # two answered 503, the third reached the store
    assert embedded_backend.store().head(prefix + "a.pdf") is None
    assert embedded_backend.store().head(prefix + "b.pdf") is not None


def test_a_store_that_keeps_answering_503_is_unavailable_after_three_attempts(
    embedded_backend: Backend, flaky: Flaky, own_prefix: str
) -> None:
    prefix = own_prefix
    embedded_backend.put(prefix + "a.pdf", b"%PDF-1.7 a")
    flaky.failures = 1_000
    store = _through(embedded_backend, flaky)
    with pytest.raises(StorageUnavailable, match="503 SlowDown"):
        store.open(prefix + "a.pdf", chunk_size=64)
    assert flaky.requests == 3
    assert embedded_backend.store().head(prefix + "a.pdf") is not None


def test_a_store_nothing_answers_is_unavailable_for_every_request(unreachable: S3Store) -> None:
    for request in (
        lambda: unreachable.head("a.pdf"),
        lambda: unreachable.open("a.pdf", chunk_size=64),
        lambda: list(unreachable.iter_chunks("a.pdf", if_match="x", chunk_size=64)),
        lambda: unreachable.copy(
            "a.pdf", "b.pdf", if_match="x", content_type="a/b", content_disposition="inline"
        ),
        lambda: unreachable.delete("a.pdf"),
    ):
        with pytest.raises(StorageUnavailable):
            request()
