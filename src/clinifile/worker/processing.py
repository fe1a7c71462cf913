"""Processing one leased attachment: the job, and its retry rules per error class.

A lost lease is no failure: another run holds the job, and this one returns quietly. An
error no rule names is a bug: it propagates, the worker loop logs it, and the job waits for
its lease to run out before another run tries it again; a job that meets such an error on
its `worker_max_attempts`th attempt fails, with a reason that says so, instead of being
claimed again forever.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from clinifile import log_context, metrics
from clinifile.errors import LeaseLost, OverQuota, ScanError, StorageError
from clinifile.metrics import timed
from clinifile.runtime import Runtime
from clinifile.storage.base import ObjectInfo
from clinifile.worker import discarder, steps
from clinifile.worker.discarder import Upload
from clinifile.worker.judging import BlockedType, Infected
from clinifile.worker.promotion import Source, UploadMissing
from clinifile.worker.rules import FailOn, QuarantineOn, RetryOn, Rules, exponential
from clinifile.worker.steps import Job

log = logging.getLogger(__name__)
T = TypeVar("T")

RULES = Rules(
    # the upload grew after registration and the account has no room: its bytes go too
    FailOn(OverQuota, delete_upload=True),
    # the scanner found malware, or the type is blocked: kept aside, counted, never served
    QuarantineOn(Infected),
    QuarantineOn(BlockedType),
    # the upload may lag behind its registration, but not for long (a StorageError too)
    RetryOn(UploadMissing, attempts="worker_missing_object_attempts", backoff=exponential),
    # the store is down, refused, or the upload changed while it was read
    RetryOn(StorageError, attempts="worker_max_attempts", backoff=exponential),
    # no verdict (clamd down, too slow, the file past its limits): never completed unscanned
    RetryOn(
        ScanError,
        attempts="scan_max_attempts",
        backoff=exponential,
        advice="it was not checked for malware, so it is not served: upload it again later, "
        "or ask your administrator",
    ),
)


def process(runtime: Runtime, attachment_id: int, owner: str) -> None:
    """Finishes the attachment leased to owner, or schedules a retry, or fails it for good."""
    job = steps.lease(runtime, attachment_id, owner)
    if job is not None:
        process_job(runtime, job)


# what becomes of an upload whose attachment is recorded: by default deleted at once; a
# worker pool's discarder deletes it beside the next job
Discard = Callable[[Upload], None]


def process_job(
    runtime: Runtime, job: Job, discard: Discard | None = None, *, then_claim: bool = False
) -> Job | None:
    """Finishes the leased job, or schedules a retry, or fails it for good; its log lines
    carry its attachment id and the id of the request that registered it. then_claim: a
    completed job's transaction also leases its owner the next job, returned (None: none
    was due, or the job ended otherwise)."""
    stored = store_half(runtime, job)
    return None if stored is None else record_half(runtime, stored, discard, then_claim=then_claim)


@dataclass(frozen=True)
class Stored:
    """A job whose file is checked and at its permanent key: what recording it needs."""

    job: Job
    source: Source
    stored: ObjectInfo


def store_half(runtime: Runtime, job: Job) -> Stored | None:
    """The job's work in the store (read, scan, judge, copy), which records nothing as done
    and may be repeated; None when the job ended otherwise (a retry scheduled, quarantined,
    failed, or its lease lost)."""

    def in_the_store() -> Stored:
        source = timed("inspect", steps.inspect, runtime, job)
        metrics.scanned(source.scan)
        settled = timed("settle", steps.settle, runtime, job, source)
        timed("judge", steps.judge, runtime, source)
        return Stored(settled, source, timed("promote", steps.promote, runtime, settled, source))

    ended, stored = _by_the_rules(runtime, job, in_the_store)
    return None if ended else stored


def record_half(
    runtime: Runtime, done: Stored, discard: Discard | None = None, *, then_claim: bool = False
) -> Job | None:
    """Records a store_half's job as completed and lets its upload go; then_claim: the same
    transaction leases the job's owner its next job, returned."""
    job, source = done.job, done.source

    def completion() -> Job | None:
        return timed(
            "complete", steps.complete, runtime, job, source, done.stored, then_claim=then_claim
        )

    ended, following = _by_the_rules(runtime, job, completion)
    if not ended and not source.already_promoted:
        # recorded: the upload is no longer needed (if it stays, the sweep deletes it)
        (discard or functools.partial(discarder.discard, runtime))((job.region, source.info.key))
    return following


def _by_the_rules(runtime: Runtime, job: Job, step: Callable[[], T]) -> tuple[bool, T | None]:
    """Runs a step of the job under its log context and RULES: (False, its result), or
    (True, None) when the job ended otherwise (rescued by a rule, failed on its last
    attempt, or its lease lost). An error no rule names propagates before the last attempt."""
    request_token = log_context.request_id.set(job.request_id)
    attachment_token = log_context.attachment_id.set(job.id)
    try:
        try:
            return False, step()
        except RULES.errors as error:
            RULES.rescue(runtime, job, error)
        except Exception:
            if job.attempts < runtime.settings.worker_max_attempts:
                raise
            log.exception("attachment %s: unexpected error on its last attempt", job.id)
            steps.fail(runtime, job, _unexpected(job.attempts))
    except LeaseLost:
        log.info("attachment %s: lease lost; another worker finishes it", job.id)
    finally:
        log_context.attachment_id.reset(attachment_token)
        log_context.request_id.reset(request_token)
    return True, None


def _unexpected(attempts: int) -> str:
    return (
        f"it could not be processed: an unexpected error in clinifile, {attempts} times; "
        "upload it again, and ask your administrator to look at the worker's log"
    )
