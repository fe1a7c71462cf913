"""The client's tests talk to a real clinifile HTTP server (tests/live_server.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from clinifile.runtime import Runtime
from tests.live_server import LiveServer


@pytest.fixture
def database_url(tmp_path: object) -> str:
    """The client does not care which database the server uses: SQLite here."""
    return f"sqlite:///{tmp_path}/client.db"


@pytest.fixture
def server(runtime: Runtime) -> Iterator[LiveServer]:
    live = LiveServer(runtime)
    live.start()
    yield live
    live.stop()
