"""A worker that dies at any point loses nothing: a later run finishes the job once, with one
permanent object, no temp object left, and the bytes counted equal to the bytes stored. A
worker whose lease ran out while it worked lets the new holder finish, and says so calmly."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from clinifile.db import accounts as accounts_db
from clinifile.db.models import Attachment
from clinifile.errors import LeaseLost
from clinifile.runtime import Runtime
from clinifile.services.object_keys import permanent_key
from clinifile.worker import steps
from clinifile.worker.processing import process
from clinifile.worker.runner import Worker
from tests import samples
from tests.crashes import CRASH_POINTS, crash_after, expire_lease, take_over
from tests.factories import Api, Tenant, s3_post, upload_url
from tests.objects import list_keys


def _row(runtime: Runtime, attachment_id: int) -> Attachment:
    with runtime.sessions() as session:
        row = session.get(Attachment, attachment_id)
        assert row is not None
        return row


def _used(runtime: Runtime, tenant: Tenant) -> int:
    with runtime.sessions() as session:
        account = accounts_db.get(session, tenant.account_id)
        assert account is not None
        return account.storage_used_bytes


def _upload_replaced(
    api: Api, tenant: Tenant, filename: str, first: bytes, final: bytes
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Registers `first`, then posts `final` to the same key (the presigned post allows it
    until processing): the job finds other bytes than were counted. Returns the record and
    the post."""
    post = api.presign(tenant)
    assert s3_post(post, filename, first).status_code == 201
    registered = api.register(tenant, upload_url(post, filename))
    assert registered.status_code == 201, registered.text
    assert s3_post(post, filename, final).status_code == 201
    return registered.json(), post


def _assert_finished_once(
    api: Api, tenant: Tenant, runtime: Runtime, record: dict[str, Any], content: bytes
) -> None:
    """What the user and the operator check: processed, the bytes they uploaded at one key,
    nothing left at the temp key, the account counting what is stored, claimed twice."""
    attachment_id = int(record["id"])
    done = api.get(tenant, record["id"])
    assert done["processing_completed"] is True
    assert done["content_type"] == "application/pdf"
    assert done["size"] == len(content)
    keys = [o.key for o in list_keys(runtime.store("au1"), f"{tenant.account_id}/")]
    assert keys == [
        f"{tenant.account_id}/patients/{tenant.patient_id}/attachments/{attachment_id}/letter.pdf"
    ]
    assert api.download(tenant, record["id"]).content == content
    assert _used(runtime, tenant) == len(content)
    assert _row(runtime, attachment_id).attempts == 2


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_a_later_run_finishes_a_job_whose_worker_died(
    api: Api, tenant: Tenant, runtime: Runtime, point: str
) -> None:
    # larger than the file first registered: there are bytes to settle
    content = samples.pdf("survives a crash") + b"%" * 4096
    record, _ = _upload_replaced(api, tenant, "letter.pdf", samples.pdf(), content)
    attachment_id = int(record["id"])
    crash_after(point, runtime, attachment_id)

    # while the dead worker's lease runs, nobody else takes the job
    assert Worker(runtime, owner="early").run_until_idle() == 0
    assert _row(runtime, attachment_id).state == "processing"

    expire_lease(runtime, attachment_id)
    assert Worker(runtime, owner="rescuer").run_until_idle() == 1
    _assert_finished_once(api, tenant, runtime, record, content)


def test_the_dead_worker_cannot_complete_a_job_it_lost(
    api: Api, tenant: Tenant, runtime: Runtime
) -> None:
    record = api.upload(tenant, "a.pdf", samples.pdf())
    attachment_id = int(record["id"])
    crash_after("claim", runtime, attachment_id)
    expire_lease(runtime, attachment_id)
    assert Worker(runtime, owner="rescuer").run_until_idle() == 1
    completed_at = _row(runtime, attachment_id).updated_at
    # the first worker wakes up and tries to finish: it no longer holds the lease
    process(runtime, attachment_id, "dead-worker")
    row = _row(runtime, attachment_id)
    assert row.state == "completed"
    assert row.updated_at == completed_at


@pytest.mark.parametrize("point", ["inspect", "delete"])
def test_the_next_step_of_a_worker_that_lost_its_job_changes_nothing(
    api: Api, tenant: Tenant, runtime: Runtime, point: str
) -> None:
    """The worker wakes after another finished its job; its next write (settling the larger
    size, or recording the attachment) names a lease it no longer holds."""
    content = samples.pdf("grew") + b"%" * 4096
    record, _ = _upload_replaced(api, tenant, "a.pdf", samples.pdf(), content)
    attachment_id = int(record["id"])
    crashed = crash_after(point, runtime, attachment_id)
    expire_lease(runtime, attachment_id)
    assert Worker(runtime, owner="rescuer").run_until_idle() == 1
    finished = _row(runtime, attachment_id)
    assert crashed.source is not None
    with pytest.raises(LeaseLost):
        if point == "inspect":
            steps.settle(runtime, crashed.job, crashed.source)
        else:
            assert crashed.stored is not None
            steps.complete(runtime, crashed.job, crashed.source, crashed.stored)
    row = _row(runtime, attachment_id)
    assert (row.state, row.updated_at, row.reserved_bytes) == (
        "completed",
        finished.updated_at,
        len(content),
    )
    assert _used(runtime, tenant) == len(content)


def test_processing_twice_changes_nothing(api: Api, tenant: Tenant, runtime: Runtime) -> None:
    record = api.upload(tenant, "a.pdf", samples.pdf())
    api.process_all()
    before = api.get(tenant, record["id"])
    assert api.process_all() == 0
    process(runtime, int(record["id"]), "test-worker")
    assert api.get(tenant, record["id"]) == before


@pytest.mark.parametrize(
    ("step", "repost"),
    [
        ("settle", False),  # noticed when it counts the larger size: nothing is counted
        ("promote", False),  # copies the upload, noticed when it records it (the upload stays)
        ("promote", True),  # the client posts again, the copy fails, noticed at the retry
    ],
)
def test_a_job_whose_lease_ran_out_ends_quietly_and_schedules_nothing(
    api: Api,
    tenant: Tenant,
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    step: str,
    repost: bool,
) -> None:
    content = samples.pdf("slow") + b"%" * 4096
    record, post = _upload_replaced(api, tenant, "letter.pdf", samples.pdf(), content)
    attachment_id = int(record["id"])
    if repost:
        content = samples.pdf("posted again") + b"%" * 8192
    real_step = getattr(steps, step)

    def lease_runs_out_first(*args: Any) -> Any:
        """The slow worker's lease runs out just before this step, and another claims."""
        take_over(runtime, attachment_id)
        if repost:
            assert s3_post(post, "letter.pdf", content).status_code == 201
        return real_step(*args)

    assert (claimed := Worker(runtime, owner="slow").claim()) and claimed.id == attachment_id
    monkeypatch.setattr(steps, step, lease_runs_out_first)
    claimed = _row(runtime, attachment_id)
    process(runtime, attachment_id, "slow")
    monkeypatch.undo()

    row = _row(runtime, attachment_id)
    assert (row.state, row.lease_owner, row.failure_reason) == ("processing", "rescuer", None)
    assert row.next_attempt_at == claimed.next_attempt_at, "no retry scheduled"
    final_key = permanent_key(tenant.account_id, tenant.patient_id, attachment_id, "letter.pdf")
    copied = step == "promote" and not repost
    keys = {o.key for o in list_keys(runtime.store("au1"), f"{tenant.account_id}/")}
    # the upload is discarded only after a job is recorded: the rescuer's job still needs it
    assert keys == ({final_key, row.temp_key} if copied else {row.temp_key})
    said = [r for r in caplog.records if r.name.startswith("clinifile.worker")]
    assert [r.getMessage() for r in said if r.levelno >= logging.WARNING] == []
    assert f"attachment {attachment_id}: lease lost; another worker finishes it" in [
        r.getMessage() for r in said if r.levelno == logging.INFO
    ]

    process(runtime, attachment_id, "rescuer")
    _assert_finished_once(api, tenant, runtime, record, content)


def test_a_loop_claims_its_next_job_with_a_completion_and_a_stop_hands_it_back(
    api: Api, tenant: Tenant, runtime: Runtime
) -> None:
    """One commit completes a job and leases the loop its next; a loop that stops before
    beginning that job returns it to the queue, due at once and its attempt not counted."""
    first = api.upload(tenant, "first.pdf", samples.pdf("first"))
    second = api.upload(tenant, "second.pdf", samples.pdf("second"))
    worker = Worker(runtime, owner="loop")
    assert worker.run_once()
    assert api.get(tenant, first["id"])["processing_state"] == "completed"
    ahead = _row(runtime, int(second["id"]))
    assert (ahead.state, ahead.lease_owner, ahead.attempts) == ("processing", "loop", 1)

    worker.hand_back()
    returned = _row(runtime, int(second["id"]))
    assert (returned.state, returned.lease_owner, returned.attempts) == ("pending", None, 0)
    assert Worker(runtime, owner="next").run_until_idle() == 1
    done = _row(runtime, int(second["id"]))
    assert (done.state, done.attempts) == ("completed", 1)
    assert api.download(tenant, second["id"]).content == samples.pdf("second")
