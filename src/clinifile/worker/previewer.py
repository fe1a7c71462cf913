"""The previews of a worker process, made beside its processing: each processing loop hands
the attachments it completed to one previewer thread, so a file that takes seconds to
preview (a 100-megapixel photo, a heavy PDF) holds up no other file's processing. What is
queued when the process stops (or past the queue's bound) gets its previews from
`clinifile previews rebuild`.
"""

from __future__ import annotations

import logging
import queue
import threading

from clinifile.runtime import Runtime
from clinifile.worker import previewing

log = logging.getLogger(__name__)

QUEUE_BOUND = 10_000


class Previewer:
    def __init__(self, runtime: Runtime, name: str) -> None:
        self.runtime = runtime
        self.name = name
        self._queue: queue.Queue[int | None] = queue.Queue(QUEUE_BOUND)
        self._thread: threading.Thread | None = None

    def submit(self, attachment_id: int) -> None:
        """Queues a completed attachment for its previews; never blocks processing."""
        try:
            self._queue.put_nowait(attachment_id)
        except queue.Full:
            log.warning(
                "attachment %s: %d files wait for previews; this one is left for "
                "`clinifile previews rebuild`",
                attachment_id,
                QUEUE_BOUND,
            )

    def run(self) -> None:
        while (attachment_id := self._queue.get()) is not None:
            # never raises: a preview that cannot be made never fails the attachment
            previewing.after_job(self.runtime, attachment_id)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float) -> None:
        """Ends after the preview being made; what is still queued is left for a rebuild."""
        left = 0
        while True:
            try:
                left += self._queue.get_nowait() is not None
            except queue.Empty:
                break
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout)
        if left:
            log.info("%d completed files left without previews: `clinifile previews rebuild`", left)
