"""The client's tests talk to a real clinifile HTTP server (tests/live_server.py)."""

from tests.live_server import database_url, server

__all__ = ["database_url", "server"]
