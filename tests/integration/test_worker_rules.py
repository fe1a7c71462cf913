"""Each retry rule of the job (worker.processing.RULES) as an operator sees it: the
attachment's state, attempts and reason, the bytes counted, the objects left; and an error
no rule names, which is a bug, not a lost lease."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import update

from clinifile.db import accounts as accounts_db
from clinifile.db.models import Attachment
from clinifile.db.types import utcnow
from clinifile.runtime import Runtime, build_runtime
from clinifile.services.object_keys import permanent_key
from clinifile.worker import steps
from clinifile.worker.runner import Worker
from clinifile.worker.sweep import sweep
from tests import samples
from tests.crashes import expire_lease
from tests.factories import Api, Tenant, make_tenant, s3_post, upload_url, wait_for
from tests.objects import list_keys


def _row(runtime: Runtime, attachment_id: int) -> Attachment:
    with runtime.sessions() as session:
        row = session.get(Attachment, attachment_id)
        assert row is not None
        return row


def _used(runtime: Runtime, account_id: int) -> int:
    with runtime.sessions() as session:
        account = accounts_db.get(session, account_id)
        assert account is not None
        return account.storage_used_bytes


def _keys(runtime: Runtime, tenant: Tenant) -> list[str]:
    return [o.key for o in list_keys(runtime.store("au1"), f"{tenant.account_id}/")]


def _make_due(runtime: Runtime, attachment_id: int) -> None:
    """What time does to a job waiting for its retry."""
    with runtime.transaction() as session:
        session.execute(
            update(Attachment)
            .where(Attachment.id == attachment_id)
            .values(next_attempt_at=utcnow())
        )


@pytest.fixture
def refusing(runtime: Runtime) -> Iterator[Runtime]:
    """The same database, and a store that refuses every request (a wrong secret key)."""
    broken = runtime.settings.model_copy(update={"s3_secret_access_key": "not-the-secret-key"})
    other = build_runtime(broken)
    yield other
    other.close()


def test_an_upload_grown_past_the_storage_limit_fails_at_once_and_is_deleted(
    api: Api, runtime: Runtime
) -> None:
    trial = make_tenant(runtime, plan="trial", storage_limit_bytes=1000)
    post = api.presign(trial)
    assert s3_post(post, "a.bin", b"a" * 100).status_code == 201
    record = api.register(trial, upload_url(post, "a.bin")).json()
    kept = api.upload(trial, "b.bin", b"b" * 500)
    assert s3_post(post, "a.bin", b"a" * 1000).status_code == 201  # needs 900 more: 400 left
    assert api.process_all() == 2

    row = _row(runtime, int(record["id"]))
    assert (row.state, row.attempts, row.reserved_bytes) == ("failed", 1, 0)
    assert "1000 bytes" in (row.failure_reason or "")
    assert "storage limit" in (row.failure_reason or "")
    assert api.get(trial, record["id"])["processing_completed"] is False
    assert _used(runtime, trial.account_id) == 500
    assert _keys(runtime, trial) == [
        permanent_key(trial.account_id, trial.patient_id, int(kept["id"]), "b.bin")
    ]


@pytest.mark.parametrize("settings_overrides", [{"worker_missing_object_attempts": 2}])
def test_a_missing_upload_is_retried_then_fails_and_frees_storage(
    api: Api, tenant: Tenant, runtime: Runtime
) -> None:
    record = api.upload(tenant, "a.pdf", samples.pdf())
    attachment_id = int(record["id"])
    row = _row(runtime, attachment_id)
    runtime.store("au1").delete(row.temp_key)
    worker = Worker(runtime, owner="test-worker")

    assert worker.run_once()
    retried = _row(runtime, attachment_id)
    assert (retried.state, retried.attempts) == ("pending", 1)
    assert "does not exist" in (retried.failure_reason or "")

    assert worker.run_once()  # the retry (no backoff in tests), the last of its budget
    failed = _row(runtime, attachment_id)
    assert (failed.state, failed.attempts) == ("failed", 2)
    assert (failed.failure_reason or "").startswith("gave up after 2 attempts")
    assert "does not exist" in (failed.failure_reason or "")
    assert failed.reserved_bytes == 0
    assert _used(runtime, tenant.account_id) == 0
    assert api.get(tenant, record["id"])["processing_completed"] is False
    assert not worker.run_once()


@pytest.mark.parametrize(
    "settings_overrides", [{"worker_backoff_base_seconds": 100.0, "worker_max_attempts": 3}]
)
def test_a_storage_error_is_retried_with_growing_backoff_until_the_store_answers(
    api: Api, tenant: Tenant, runtime: Runtime, refusing: Runtime
) -> None:
    content = samples.pdf()
    record = api.upload(tenant, "a.pdf", content)
    attachment_id = int(record["id"])
    for attempt, (shortest, longest) in [(1, (50, 100)), (2, (100, 200))]:
        assert Worker(refusing, owner="cut-off").run_until_idle() == 1
        row = _row(runtime, attachment_id)
        assert (row.state, row.attempts) == ("pending", attempt)
        assert "object store refused" in (row.failure_reason or "")
        delay = (row.next_attempt_at - row.updated_at).total_seconds()
        assert shortest - 1 <= delay <= longest + 1  # whole seconds in the database
        assert Worker(runtime, owner="early").run_until_idle() == 0, "not before its time"
        _make_due(runtime, attachment_id)

    assert Worker(runtime, owner="healthy").run_until_idle() == 1
    done = _row(runtime, attachment_id)
    assert (done.state, done.attempts, done.failure_reason) == ("completed", 3, None)
    assert api.download(tenant, record["id"]).content == content
    assert _used(runtime, tenant.account_id) == len(content)
    assert _keys(runtime, tenant) == [done.permanent_key]


@pytest.mark.parametrize("settings_overrides", [{"worker_max_attempts": 2}])
def test_a_storage_error_fails_the_job_once_its_attempts_are_spent(
    api: Api, tenant: Tenant, runtime: Runtime, refusing: Runtime
) -> None:
    record = api.upload(tenant, "a.pdf", samples.pdf())
    attachment_id = int(record["id"])
    assert Worker(refusing, owner="cut-off").run_until_idle() == 2  # no backoff in tests
    failed = _row(runtime, attachment_id)
    assert (failed.state, failed.attempts, failed.reserved_bytes) == ("failed", 2, 0)
    assert (failed.failure_reason or "").startswith("gave up after 2 attempts")
    assert "object store refused" in (failed.failure_reason or "")
    assert _used(runtime, tenant.account_id) == 0
    # the upload stays until the sweep, which removes a failed attachment's upload at once
    assert _keys(runtime, tenant) == [failed.temp_key]
    assert sweep(runtime) == 1
    assert _keys(runtime, tenant) == []


def _bug_once(monkeypatch: pytest.MonkeyPatch, step: str) -> None:
    """The step raises a KeyError the first time it runs, as a bug in it would."""
    real = getattr(steps, step)
    calls = []

    def buggy(*args: Any) -> Any:
        calls.append(args)
        if len(calls) == 1:
            raise KeyError("content_type")
        return real(*args)

    monkeypatch.setattr(steps, step, buggy)


def _worker_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("clinifile.worker")]


def test_a_key_error_in_a_step_is_a_bug_not_a_lost_lease(
    api: Api,
    tenant: Tenant,
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    record = api.upload(tenant, "a.pdf", samples.pdf())
    attachment_id = int(record["id"])
    _bug_once(monkeypatch, "promote")
    with pytest.raises(KeyError):
        Worker(runtime, owner="buggy").run_once()
    # neither retried nor failed: the job keeps its lease until it runs out
    row = _row(runtime, attachment_id)
    assert (row.state, row.lease_owner, row.failure_reason) == ("processing", "buggy", None)
    assert not [line for line in _worker_lines(caplog) if "lease lost" in line]
    assert Worker(runtime, owner="early").run_until_idle() == 0

    expire_lease(runtime, attachment_id)
    assert Worker(runtime, owner="rescuer").run_until_idle() == 1
    done = _row(runtime, attachment_id)
    assert (done.state, done.attempts) == ("completed", 2)


@pytest.mark.parametrize("settings_overrides", [{"worker_max_attempts": 2}])
def test_a_bug_met_on_the_last_attempt_fails_the_job_with_a_reason_instead_of_looping(
    api: Api,
    tenant: Tenant,
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A step that always raises an error no rule names: the first attempt leaves the job
    to its lease, as any bug does; the last fails it, so the clinic sees why instead of an
    attachment claimed again every lease for ever."""
    record = api.upload(tenant, "a.pdf", samples.pdf())
    attachment_id = int(record["id"])

    def always_buggy(*args: Any) -> Any:
        raise KeyError("content_type")

    monkeypatch.setattr(steps, "promote", always_buggy)
    with pytest.raises(KeyError):
        Worker(runtime, owner="buggy").run_once()
    assert _row(runtime, attachment_id).state == "processing"

    expire_lease(runtime, attachment_id)
    assert Worker(runtime, owner="buggy-again").run_once()
    failed = _row(runtime, attachment_id)
    assert (failed.state, failed.attempts, failed.lease_owner) == ("failed", 2, None)
    shown = api.get(tenant, record["id"])
    assert shown["processing_state"] == "failed"
    assert shown["processing_completed"] is False
    assert shown["processing_error"].startswith(
        "it could not be processed: an unexpected error in clinifile, 2 times"
    )
    assert _used(runtime, tenant.account_id) == 0, "a failed file's bytes are given back"
    assert any(
        r.exc_info and "unexpected error on its last attempt" in r.getMessage()
        for r in caplog.records
    ), "the operator's log has the traceback"
    assert Worker(runtime, owner="later").run_until_idle() == 0


def test_the_worker_loop_logs_a_bug_and_goes_on_with_other_jobs(
    api: Api,
    tenant: Tenant,
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ids = [int(api.upload(tenant, f"{i}.pdf", samples.pdf())["id"]) for i in range(2)]
    _bug_once(monkeypatch, "inspect")
    worker = Worker(runtime, owner="looping")
    worker.start()
    try:
        wait_for(lambda: {_row(runtime, i).state for i in ids} == {"processing", "completed"})
    finally:
        worker.request_stop()
        runtime.work_enqueued()
        assert worker.join(30)
    bugged = [r for r in caplog.records if "unexpected error" in r.getMessage()]
    assert len(bugged) == 1 and bugged[0].levelno == logging.ERROR
    assert bugged[0].exc_info is not None and bugged[0].exc_info[0] is KeyError
    [stuck] = [i for i in ids if _row(runtime, i).state == "processing"]
    assert _row(runtime, stuck).lease_owner == "looping"
    assert not [line for line in _worker_lines(caplog) if "lease lost" in line]
