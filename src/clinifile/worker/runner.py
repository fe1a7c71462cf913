"""The worker loop: claim a due attachment, process it, sleep when there is none.

`WorkerPool` runs N such loops as threads of one process (`clinifile worker
--concurrency N`, or the one inside `serve`), wakes them on new work, sweeps abandoned
uploads now and then, and on shutdown lets each finish its job or hands the lease back.
Beside the loops, one thread makes the previews of the files they completed and one deletes
the uploads they no longer need, so that neither holds up the next job. Each running loop
also records its jobs as completed in a thread of its own (Worker.run), so that a job's
transaction overlaps the next job's work in the store.
"""

from __future__ import annotations

import functools
import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from clinifile.db import attachments as attachments_db
from clinifile.runtime import Runtime
from clinifile.worker import discarder, previewing, processing, steps
from clinifile.worker.deliverer import Deliverer
from clinifile.worker.delivery import Render
from clinifile.worker.previewer import previewer
from clinifile.worker.processing import Discard, process_job
from clinifile.worker.steps import Job
from clinifile.worker.sweep import sweep
from clinifile.worker.wakeup import PostgresWakeup, start_wakeup

log = logging.getLogger(__name__)


def worker_id() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Worker:
    """One processing loop. after_job: what happens to each job it finished (a pool's
    previewer queues its previews); by default its previews are made at once, in this
    loop. discard: what happens to the upload of a recorded attachment (a pool's discarder
    queues its deletion); by default it is deleted at once."""

    def __init__(
        self,
        runtime: Runtime,
        owner: str | None = None,
        *,
        sweeper: bool = False,
        after_job: Callable[[int], None] | None = None,
        discard: Discard | None = None,
    ):
        self.runtime = runtime
        self.owner = owner or worker_id()
        self.sweeper = sweeper
        self.after_job = after_job or functools.partial(previewing.after_job, runtime)
        # None: process_job's default (deleted at once)
        self.discard = discard
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # the job claimed with the last one's completion, not yet begun
        self._next: Job | None = None
        # a running loop's record of its last job, in its recorder thread (run)
        self._recording: Future[Job | None] | None = None
        interval = runtime.settings.sweep_interval_seconds
        # the first sweep after a random part of the interval, so that workers spread out
        self._next_sweep = time.monotonic() + random.uniform(0.1, 1.0) * interval

    def claim(self) -> Job | None:
        return steps.claim(self.runtime, self.owner)

    def run_once(self) -> bool:
        """Processes one due attachment; False when there was none. The transaction that
        completes a job also claims the next (one commit for both), unless the loop is
        stopping."""
        job, self._next = self._next or self.claim(), None
        if job is None:
            return False
        self._next = process_job(
            self.runtime, job, self.discard, then_claim=not self._stop.is_set()
        )
        # its own step: a preview that cannot be made never fails the attachment
        self.after_job(job.id)
        return True

    def run_until_idle(self) -> int:
        count = 0
        while self.run_once():
            count += 1
        return count

    def _maybe_sweep(self) -> None:
        if not self.sweeper or time.monotonic() < self._next_sweep:
            return
        self._next_sweep = time.monotonic() + self.runtime.settings.sweep_interval_seconds
        sweep(self.runtime)

    def run(self) -> None:
        """The loop of a running worker: run_once's steps, pipelined. While one thread
        records a job as completed (its transaction also claiming the next), this one works
        on the job after it in the store, so that the database's round trips overlap the
        store's."""
        log.info("worker %s started", self.owner)
        with ThreadPoolExecutor(1, thread_name_prefix=f"recorder-{self.owner}") as recorder:
            while not self._stop.is_set():
                try:
                    if self._pipelined_step(recorder):
                        continue
                    self._maybe_sweep()
                except Exception:
                    log.exception("worker %s: unexpected error; continuing", self.owner)
                self.runtime.wait_for_work(self.runtime.settings.worker_poll_seconds)
            self.hand_back(self._collect())
        log.info("worker %s stopped", self.owner)

    def _pipelined_step(self, recorder: ThreadPoolExecutor) -> bool:
        """Takes the next job through the store while the last job's record runs in the
        recorder; then collects that record (its claim gives the job after) and hands this
        job to the recorder. False when there was no job."""
        job, self._next = self._next or self.claim(), None
        if job is None:
            self._next = self._collect()
            return self._next is not None
        stored = processing.store_half(self.runtime, job)
        self._next = self._collect()
        if stored is None:  # ended otherwise: retried, quarantined, failed or lost
            self.after_job(job.id)
            return True
        self._recording = recorder.submit(self._record, stored, not self._stop.is_set())
        return True

    def _record(self, stored: processing.Stored, then_claim: bool) -> Job | None:
        try:
            following = processing.record_half(
                self.runtime, stored, self.discard, then_claim=then_claim
            )
        except Exception:
            log.exception("worker %s: unexpected error; continuing", self.owner)
            return None
        self.after_job(stored.job.id)
        return following

    def _collect(self) -> Job | None:
        """The job the record in flight claimed, once it is done (None: none, or no
        record); each record is collected once."""
        recording, self._recording = self._recording, None
        return None if recording is None else recording.result()

    def hand_back(self, *more: Job | None) -> None:
        """Returns the jobs claimed ahead, if any, to the queue as if never claimed."""
        jobs, self._next = [self._next, *more], None
        for job in jobs:
            if job is None:
                continue
            try:
                steps.hand_back(self.runtime, job)
            except Exception:
                # its lease runs out instead, and another worker takes it then
                log.exception("worker %s could not hand attachment %s back", self.owner, job.id)

    def start(self) -> threading.Thread:
        self._thread = threading.Thread(target=self.run, name=f"worker-{self.owner}", daemon=True)
        self._thread.start()
        return self._thread

    def request_stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float) -> bool:
        """Waits for the current job; True when the loop has ended."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def release_leases(self) -> None:
        with self.runtime.transaction() as session:
            released = attachments_db.release_leases(session, self.owner)
        if released:
            log.warning("worker %s handed %d unfinished job(s) back", self.owner, released)


class WorkerPool:
    """N processing loops and, given render (how the API shows an attachment, which the
    worker layer may not import: the CLI passes api.presenters'), the webhook delivery loop
    with its own thread pool (worker.deliverer)."""

    def __init__(self, runtime: Runtime, concurrency: int = 1, render: Render | None = None):
        self.runtime = runtime
        base = worker_id()
        self.previewer = previewer(runtime, f"{base}-previews")
        self.discarder = discarder.discarder(runtime, f"{base}-discards")
        self.workers = [
            Worker(
                runtime,
                f"{base}-{i}",
                sweeper=(i == 0),
                after_job=self.previewer.submit,
                discard=self.discarder.submit,
            )
            for i in range(concurrency)
        ]
        self.deliverer = Deliverer(runtime, f"{base}-hooks", render) if render else None
        self.wakeup: PostgresWakeup | None = None

    def start(self) -> None:
        self.wakeup = start_wakeup(
            self.runtime.settings.resolved_database_url(), self.runtime.work_enqueued
        )
        self.previewer.start()
        self.discarder.start()
        for worker in self.workers:
            worker.start()
        if self.deliverer is not None:
            self.deliverer.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Lets each worker finish its current job within timeout, then hands back the
        leases of those that did not."""
        for worker in self.workers:
            worker.request_stop()
        self.runtime.work_enqueued()
        deadline = time.monotonic() + timeout
        for worker in self.workers:
            if not worker.join(max(0.0, deadline - time.monotonic())):
                worker.release_leases()
        self.previewer.stop(max(0.0, deadline - time.monotonic()))
        self.discarder.stop(max(0.0, deadline - time.monotonic()))
        if self.deliverer is not None:
            self.deliverer.stop(max(0.0, deadline - time.monotonic()))
        if self.wakeup is not None:
            self.wakeup.stop()
