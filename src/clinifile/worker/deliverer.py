"""The delivery loop of a worker process: leases due webhook deliveries within the bounds
(in the process, and per endpoint) and hands each to a thread of its pool
(worker.delivery.attempt). It wakes when this process commits an event or finishes a
delivery, and polls for other processes' events every `webhook_poll_seconds`."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial

import httpx

from clinifile.db import webhook_deliveries as deliveries_db
from clinifile.db.webhook_deliveries import Leased
from clinifile.runtime import Runtime
from clinifile.services import events
from clinifile.worker.delivery import Attempted, Payloads, Render, attempt, settle

log = logging.getLogger(__name__)


class Deliverer:
    def __init__(self, runtime: Runtime, owner: str, render: Render) -> None:
        self.runtime = runtime
        self.owner = owner
        self._payloads = Payloads(render)
        settings = runtime.settings
        self.concurrency = settings.webhook_concurrency
        self.per_endpoint = settings.webhook_endpoint_concurrency
        self._executor = ThreadPoolExecutor(self.concurrency, thread_name_prefix="webhook")
        # no proxies from the environment: the connection goes to the address checked
        self._http = httpx.Client(
            timeout=settings.webhook_timeout_seconds, follow_redirects=False, trust_env=False
        )
        self._in_flight: Counter[int] = Counter()
        # what the threads sent, for the loop to settle in one transaction
        self._attempted: list[Attempted] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def dispatch(self) -> int:
        """Leases what the bounds allow and starts sending it; how many were started."""
        with self._lock:
            free = self.concurrency - sum(self._in_flight.values())
            counts = Counter(self._in_flight)
        if free <= 0:
            return 0
        saturated = {e for e, n in counts.items() if n >= self.per_endpoint}
        lease = self.runtime.settings.webhook_lease_seconds
        claimed: list[tuple[int, int]] = []
        # look first without the write lock (SQLite's is one for the whole database)
        with self.runtime.sessions() as session:
            if not deliveries_db.due(session, limit=1, exclude_endpoints=saturated):
                return 0
        with self.runtime.transaction() as session:
            for delivery_id, endpoint_id in deliveries_db.due(
                session, limit=free * 4, exclude_endpoints=saturated, lock=True
            ):
                if len(claimed) >= free:
                    break
                if counts[endpoint_id] >= self.per_endpoint:
                    continue
                if deliveries_db.claim(session, delivery_id, owner=self.owner, lease_seconds=lease):
                    claimed.append((delivery_id, endpoint_id))
                    counts[endpoint_id] += 1
            leased = deliveries_db.leased(session, [d for d, _ in claimed], self.owner)
        for one in leased:
            endpoint_id = one.endpoint.id
            with self._lock:
                self._in_flight[endpoint_id] += 1
            future = self._executor.submit(self._attempt, one)
            # one cancelled at shutdown never runs: its slot is given back here
            future.add_done_callback(partial(self._cancelled, endpoint_id))
        return len(leased)

    def _attempt(self, leased: Leased) -> None:
        try:
            attempted = attempt(self.runtime, self._http, leased, self._payloads)
            with self._lock:
                self._attempted.append(attempted)
        except Exception:
            log.exception(
                "webhook delivery %s: unexpected error; its lease will run out", leased.delivery.id
            )
        finally:
            self._done(leased.endpoint.id)

    def _cancelled(self, endpoint_id: int, future: Future[None]) -> None:
        if future.cancelled():
            self._done(endpoint_id)

    def _done(self, endpoint_id: int) -> None:
        with self._lock:
            self._in_flight[endpoint_id] -= 1
            if self._in_flight[endpoint_id] <= 0:
                del self._in_flight[endpoint_id]
        events.wake()

    def settle(self) -> int:
        """Records what was sent since the last time, in one transaction."""
        with self._lock:
            attempted, self._attempted = self._attempted, []
        settle(self.runtime, self.owner, attempted)
        return len(attempted)

    def run(self) -> None:
        poll = self.runtime.settings.webhook_poll_seconds
        while not self._stop.is_set():
            try:
                settled = self.settle()
                if self.dispatch() or settled:
                    continue
            except Exception:
                log.exception("webhook deliverer %s: unexpected error; continuing", self.owner)
            events.wait_for_events(poll)

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.run, name=f"deliverer-{self.owner}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float) -> None:
        """Stops leasing, lets deliveries in flight finish within timeout, and hands back
        the leases of those that did not."""
        self._stop.set()
        events.wake()
        deadline = time.monotonic() + timeout
        if self._thread is not None:
            self._thread.join(max(0.0, deadline - time.monotonic()))
        self._executor.shutdown(wait=False, cancel_futures=True)
        while time.monotonic() < deadline:
            with self._lock:
                if not self._in_flight:
                    break
            time.sleep(0.05)
        self.settle()
        with self.runtime.transaction() as session:
            released = deliveries_db.release_leases(session, self.owner)
        if released:
            log.warning("webhook deliverer %s handed %d delivery(ies) back", self.owner, released)
        self._http.close()
