"""The worker loop: claim a due attachment, process it, sleep when there is none."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid

from clinifile.db import attachments as attachments_db
from clinifile.runtime import Runtime
from clinifile.worker.processing import process

log = logging.getLogger(__name__)


def worker_id() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Worker:
    def __init__(self, runtime: Runtime, owner: str | None = None) -> None:
        self.runtime = runtime
        self.owner = owner or worker_id()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def claim(self) -> int | None:
        with self.runtime.transaction() as session:
            return attachments_db.claim_next(
                session, owner=self.owner, lease_seconds=self.runtime.settings.worker_lease_seconds
            )

    def run_once(self) -> bool:
        """Processes one due attachment; False when there was none."""
        attachment_id = self.claim()
        if attachment_id is None:
            return False
        process(self.runtime, attachment_id, self.owner)
        return True

    def run_until_idle(self) -> int:
        count = 0
        while self.run_once():
            count += 1
        return count

    def run(self) -> None:
        log.info("worker %s started", self.owner)
        wake = self.runtime.work_available
        while not self._stop.is_set():
            try:
                if self.run_once():
                    continue
            except Exception:
                log.exception("worker %s: unexpected error; continuing", self.owner)
            wake.wait(self.runtime.settings.worker_poll_seconds)
            wake.clear()
        log.info("worker %s stopped", self.owner)

    def start(self) -> threading.Thread:
        self._thread = threading.Thread(target=self.run, name="clinifile-worker", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self.runtime.work_available.set()
        if self._thread is not None:
            self._thread.join(timeout)
