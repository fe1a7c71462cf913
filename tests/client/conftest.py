"""The client's tests talk to a real clinifile HTTP server (tests/live_server.py), each
through Client and through AsyncClient (`make_client`, tests/client/flavours.py)."""

from collections.abc import Callable
from typing import Any

import pytest

from tests.client.flavours import FLAVOURS
from tests.live_server import database_url, server

__all__ = ["database_url", "make_client", "server"]


@pytest.fixture(params=sorted(FLAVOURS))
def make_client(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """Builds the client under test: Client, or AsyncClient driven from this thread."""
    return FLAVOURS[request.param]
