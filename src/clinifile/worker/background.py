"""A thread that takes work off the processing loops: they hand it items and go on to their
next job, and it handles the items one by one (a worker process's previews, and the
deletion of uploads whose attachments are recorded). What is queued when the process stops
is either handled within the stop's timeout or left, and handed to `left`: each such item
has a command or a sweep that picks it up later.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

QUEUE_BOUND = 10_000


class Background(Generic[T]):
    """handle: called for each item, in the thread; must not raise (an error it lets out
    is logged, and the thread goes on). dropped: called with an item the full queue could
    not take. left: called with how many items a stop left unhandled."""

    def __init__(
        self,
        name: str,
        handle: Callable[[T], None],
        *,
        dropped: Callable[[T], None],
        left: Callable[[int], None],
        finish_on_stop: bool,
    ) -> None:
        self.name = name
        self._handle = handle
        self._dropped = dropped
        self._left = left
        self._finish_on_stop = finish_on_stop
        self._queue: queue.Queue[T | None] = queue.Queue(QUEUE_BOUND)
        self._thread: threading.Thread | None = None

    def submit(self, item: T) -> None:
        """Queues item; never blocks the loop that hands it over."""
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self._dropped(item)

    def run(self) -> None:
        while (item := self._queue.get()) is not None:
            try:
                self._handle(item)
            except Exception:
                log.exception("%s: unexpected error; going on", self.name)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float) -> None:
        """Ends after the item in hand, or, when finish_on_stop, after what is queued (as
        far as timeout allows); what is left goes to `left`."""
        deadline = time.monotonic() + timeout
        left = 0 if self._finish_on_stop else self._take_all()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(max(0.0, deadline - time.monotonic()))
            if self._thread.is_alive():
                left += self._take_all()
        if left:
            self._left(left)

    def _take_all(self) -> int:
        taken = 0
        while True:
            try:
                taken += self._queue.get_nowait() is not None
            except queue.Empty:
                return taken
