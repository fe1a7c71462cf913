"""Wakes workers within a second of new work: LISTEN/NOTIFY on PostgreSQL.

Polling stays the fallback (and the only way on SQLite): a lost notification or a dropped
connection only delays work until the next poll.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg
from sqlalchemy.engine import make_url

from clinifile.db.attachments import NOTIFY_CHANNEL

log = logging.getLogger(__name__)


def _conninfo(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class PostgresWakeup:
    """A thread that calls `wake` whenever an attachment is enqueued anywhere."""

    def __init__(self, database_url: str, wake: Callable[[], None]) -> None:
        self._conninfo = _conninfo(database_url)
        self._wake = wake
        self._stop = threading.Event()
        # set while LISTEN is in place (for readiness checks and tests)
        self.listening = threading.Event()
        self._thread = threading.Thread(target=self._run, name="clinifile-wakeup", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    self.listening.set()
                    log.debug("listening for new attachments")
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=1.0):
                            self._wake()
            except psycopg.Error as error:
                self.listening.clear()
                log.warning("wake-up listener lost its connection (%s); polling meanwhile", error)
                self._stop.wait(2.0)


def start_wakeup(database_url: str, wake: Callable[[], None]) -> PostgresWakeup | None:
    if not database_url.startswith("postgresql"):
        return None
    wakeup = PostgresWakeup(database_url, wake)
    wakeup.start()
    return wakeup
