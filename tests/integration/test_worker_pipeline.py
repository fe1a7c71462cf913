"""A running worker loop works on the next job in the store while its last job is recorded as
completed (the transaction that also claims the job after). Nothing may be lost to that
overlap: every job ends once and as its rules say, a job that fails in the store beside
recorded ones ends by its rule, and a stop hands back every job claimed ahead."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from clinifile.db.models import Attachment
from clinifile.runtime import Runtime
from clinifile.worker.runner import Worker
from tests import samples
from tests.factories import Api, Tenant, wait_for

WINDOWS_PROGRAM = b"MZ" + b"\x90" * 62 + b"PE\x00\x00" + b"\x00" * 200


def _rows(runtime: Runtime, records: list[dict[str, Any]]) -> dict[str, Attachment]:
    ids = [int(record["id"]) for record in records]
    with runtime.sessions() as session:
        rows = session.scalars(select(Attachment).where(Attachment.id.in_(ids))).all()
    return {str(row.id): row for row in rows}


def _states(runtime: Runtime, records: list[dict[str, Any]]) -> list[str]:
    return [row.state for row in _rows(runtime, records).values()]


def _stopped(worker: Worker) -> None:
    worker.request_stop()
    worker.runtime.work_enqueued()
    assert worker.join(30), "the loop did not stop"


def test_a_running_loop_ends_every_job_once_a_blocked_one_by_its_rule(
    api: Api, tenant: Tenant, runtime: Runtime
) -> None:
    contents = {f"letter-{i}.pdf": samples.pdf(f"letter {i}") for i in range(10)}
    records = [api.upload(tenant, name, content) for name, content in contents.items()]
    # between recorded jobs, one that ends in the store: a program, quarantined
    blocked = api.upload(tenant, "setup.exe", WINDOWS_PROGRAM)
    records.insert(5, blocked)
    worker = Worker(runtime, owner="pipelined")
    worker.start()
    try:
        wait_for(
            lambda: all(s in ("completed", "quarantined") for s in _states(runtime, records)),
            timeout=60,
        )
    finally:
        _stopped(worker)
    rows = _rows(runtime, records)
    assert rows[blocked["id"]].state == "quarantined"
    for record in records:
        row = rows[record["id"]]
        assert row.attempts == 1 and row.lease_owner is None, (row.id, row.state, row.attempts)
        if record is not blocked:
            assert row.state == "completed"
            assert api.download(tenant, record["id"]).content == contents[row.filename]
    assert api.get(tenant, blocked["id"])["processing_state"] == "quarantined"


def test_a_stop_in_a_backlog_hands_back_every_job_claimed_ahead(
    api: Api, tenant: Tenant, runtime: Runtime
) -> None:
    records = [api.upload(tenant, f"note-{i}.txt", samples.TEXT) for i in range(60)]
    worker = Worker(runtime, owner="stopping")
    worker.start()
    try:
        wait_for(lambda: _states(runtime, records).count("completed") >= 3, timeout=60)
    finally:
        _stopped(worker)
    rows = _rows(runtime, records).values()
    assert {row.state for row in rows} == {"completed", "pending"}, "stopped in the backlog"
    for row in rows:
        # never left leased to the stopped loop: completed once, or back in the queue as if
        # never claimed
        assert row.lease_owner is None
        assert row.attempts == (1 if row.state == "completed" else 0), (row.id, row.state)
    left = sum(row.state == "pending" for row in rows)
    assert Worker(runtime, owner="next").run_until_idle() == left
    assert set(_states(runtime, records)) == {"completed"}
