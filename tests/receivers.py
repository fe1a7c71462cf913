"""Webhook receivers for the tests: real HTTP servers on 127.0.0.1, each in its own thread,
that keep every request they get (headers, body, arrival time) and answer as told."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float  # time.time() when the body was read
    event: dict[str, Any] = field(init=False)  # the body, parsed once

    def __post_init__(self) -> None:
        self.event = json.loads(self.body)


# what to answer the n-th request (from 0): a status, and headers
Answer = Callable[[int], tuple[int, dict[str, str]]]


def always(status: int) -> Answer:
    return lambda _n: (status, {})


def failing(times: int, status: int = 500) -> Answer:
    """status for the first `times` requests, then 200."""
    return lambda n: (status if n < times else 200, {})


@dataclass
class Receiver:
    answer: Answer
    # requests with these numbers (from 0) are held until release() (or the server stops)
    hang: set[int] = field(default_factory=set)
    # called with each request's body as it arrives (a test's check of what it says)
    check: Callable[[bytes], None] | None = None
    requests: list[Received] = field(default_factory=list)  # the requests answered
    arrived: list[Received] = field(default_factory=list)  # every request, held ones too
    problems: list[str] = field(default_factory=list)  # what check raised
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _released: threading.Event = field(default_factory=threading.Event)

    def release(self) -> None:
        self._released.set()

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("content-length", "0"))
        body = handler.rfile.read(length)
        received = Received(dict(handler.headers.items()), body, time.time())
        with self._lock:
            number = len(self.arrived)
            self.arrived.append(received)
        if self.check is not None:
            try:
                self.check(body)
            except Exception as error:
                with self._lock:
                    self.problems.append(repr(error))
        if number in self.hang:
            self._released.wait(60)
            return  # no answer: the connection is closed when the handler returns
        status, headers = self.answer(number)
        with self._lock:
            self.requests.append(received)
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", "2")
        handler.end_headers()
        handler.wfile.write(b"ok")

    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.event for r in self.requests]

    def of_type(self, event_type: str) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if r.event["type"] == event_type]


@contextmanager
def receiver(
    answer: Answer | None = None,
    *,
    hang: set[int] | None = None,
    check: Callable[[bytes], None] | None = None,
) -> Iterator[Receiver]:
    """A running receiver; its url is http://127.0.0.1:<port>/hooks."""
    state = Receiver(answer or always(200), hang or set(), check)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real receivers do

        def do_POST(self) -> None:
            state.handle(self)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release()
        server.shutdown()
        server.server_close()
