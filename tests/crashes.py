"""A worker that dies part-way through a job, made by running the job's real steps and
stopping after one of them; and what time does to the lease it leaves behind."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import update

from clinifile.db.models import Attachment
from clinifile.db.types import utcnow
from clinifile.runtime import Runtime
from clinifile.storage.base import ObjectInfo
from clinifile.worker import promotion, steps
from clinifile.worker.promotion import Source
from clinifile.worker.runner import Worker
from clinifile.worker.steps import Job

# the points a crash can fall between, in the job's order
CRASH_POINTS = (
    "claim",  # leased, nothing read
    "inspect",  # read and hashed
    "settle",  # the bytes found are counted
    "copy",  # the verified copy is in place, the upload not yet deleted
    # the upload is deleted, the attachment not yet recorded: a worker no longer deletes
    # before it records (it discards the upload after), but one of an earlier version did,
    # and a rolling deploy has both
    "delete",
)


@dataclass
class Crashed:
    """What the dead worker held in memory when it stopped."""

    job: Job
    source: Source | None = None
    stored: ObjectInfo | None = None


def crash_after(
    point: str, runtime: Runtime, attachment_id: int, owner: str = "dead-worker"
) -> Crashed:
    """Claims the attachment as owner and runs the job's steps up to `point`, then stops as
    if the process died there."""
    assert point in CRASH_POINTS, point
    assert (claimed := Worker(runtime, owner=owner).claim()) and claimed.id == attachment_id
    job = steps.lease(runtime, attachment_id, owner)
    assert job is not None
    if point == "claim":
        return Crashed(job)
    source = steps.inspect(runtime, job)
    if point == "inspect":
        return Crashed(job, source)
    job = steps.settle(runtime, job, source)
    if point == "settle":
        return Crashed(job, source)
    if point == "copy":
        store = runtime.store(job.region)
        copied = promotion.copy_verified(store, source, job.final_key, job.filename)
        return Crashed(job, source, copied)
    stored = steps.promote(runtime, job, source)
    runtime.store(job.region).delete(source.info.key)
    return Crashed(job, source, stored)


def expire_lease(runtime: Runtime, attachment_id: int) -> None:
    """What time does to a dead (or slow) worker's lease."""
    with runtime.transaction() as session:
        session.execute(
            update(Attachment)
            .where(Attachment.id == attachment_id)
            .values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )


def take_over(runtime: Runtime, attachment_id: int, owner: str = "rescuer") -> None:
    """The lease runs out and another worker claims the job."""
    expire_lease(runtime, attachment_id)
    assert (claimed := Worker(runtime, owner=owner).claim()) and claimed.id == attachment_id
