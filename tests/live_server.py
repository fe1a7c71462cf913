"""A real clinifile HTTP server (uvicorn in a thread) with a worker, for the client's and the
page's tests; their conftests import the fixtures below."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from clinifile.api.app import create_app
from clinifile.runtime import Runtime
from clinifile.worker.runner import WorkerPool
from tests.factories import wait_for


class LiveServer:
    def __init__(self, runtime: Runtime) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.runtime = runtime
        self.app = create_app(runtime)
        self._server: uvicorn.Server | None = None
        self._workers = WorkerPool(runtime, concurrency=1)
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        self._workers.start()
        wait_for(lambda: self._server is not None and self._server.started, timeout=10)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(10)
            self._workers.stop(10)


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """A client of the HTTP API does not care which database the server uses: SQLite."""
    return f"sqlite:///{tmp_path}/served.db"


@pytest.fixture
def server(runtime: Runtime) -> Iterator[LiveServer]:
    live = LiveServer(runtime)
    live.start()
    yield live
    live.stop()
