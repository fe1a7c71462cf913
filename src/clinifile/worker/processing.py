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

from clinifile import log_context, metrics
from clinifile.errors import LeaseLost, OverQuota, ScanError, StorageError
from clinifile.metrics import timed
from clinifile.runtime import Runtime
from clinifile.worker import discarder, steps
from clinifile.worker.discarder import Upload
from clinifile.worker.judging import BlockedType, Infected
from clinifile.worker.promotion import UploadMissing
from clinifile.worker.rules import FailOn, QuarantineOn, RetryOn, Rules, exponential
from clinifile.worker.steps import Job

log = logging.getLogger(__name__)

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
    request_token = log_context.request_id.set(job.request_id)
    attachment_token = log_context.attachment_id.set(job.id)
    try:
        return _process(
            runtime, job, discard or functools.partial(discarder.discard, runtime), then_claim
        )
    finally:
        log_context.attachment_id.reset(attachment_token)
        log_context.request_id.reset(request_token)


def _process(runtime: Runtime, job: Job, discard: Discard, then_claim: bool) -> Job | None:
    try:
        return _finish(runtime, job, discard, then_claim)
    except LeaseLost:
        log.info("attachment %s: lease lost; another worker finishes it", job.id)
        return None


def _finish(runtime: Runtime, job: Job, discard: Discard, then_claim: bool) -> Job | None:
    try:
        source = timed("inspect", steps.inspect, runtime, job)
        metrics.scanned(source.scan)
        job = timed("settle", steps.settle, runtime, job, source)
        timed("judge", steps.judge, runtime, source)
        stored = timed("promote", steps.promote, runtime, job, source)
        following = timed(
            "complete", steps.complete, runtime, job, source, stored, then_claim=then_claim
        )
    except RULES.errors as error:
        RULES.rescue(runtime, job, error)
        return None
    except Exception:
        if job.attempts < runtime.settings.worker_max_attempts:
            raise
        log.exception("attachment %s: unexpected error on its last attempt", job.id)
        steps.fail(runtime, job, _unexpected(job.attempts))
        return None
    if not source.already_promoted:
        # recorded: the upload is no longer needed (if it stays, the sweep deletes it)
        discard((job.region, source.info.key))
    return following


def _unexpected(attempts: int) -> str:
    return (
        f"it could not be processed: an unexpected error in clinifile, {attempts} times; "
        "upload it again, and ask your administrator to look at the worker's log"
    )
