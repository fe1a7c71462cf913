"""A worker that dies at any point loses nothing: a later run finishes the job once, with one
permanent object and no temp object left."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from clinifile.db import accounts as accounts_db
from clinifile.db.models import Attachment
from clinifile.db.types import utcnow
from clinifile.runtime import Runtime
from clinifile.services.filenames import safe_filename
from clinifile.services.object_keys import permanent_key
from clinifile.worker.processing import process
from clinifile.worker.promotion import inspect, promote
from clinifile.worker.runner import Worker
from tests import samples
from tests.factories import Api, Tenant
from tests.objects import list_keys


def _row(runtime: Runtime, attachment_id: int) -> Attachment:
    with runtime.sessions() as session:
        row = session.get(Attachment, attachment_id)
        assert row is not None
        return row


def _expire_lease(runtime: Runtime, attachment_id: int) -> None:
    """What time does to a dead worker's lease."""
    with runtime.transaction() as session:
        session.execute(
            update(Attachment)
            .where(Attachment.id == attachment_id)
            .values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )


def _crash_after(step: str, runtime: Runtime, attachment_id: int) -> None:
    """Runs the real job's steps up to `step`, then stops as if the process died."""
    dead = Worker(runtime, owner="dead-worker")
    assert dead.claim() == attachment_id
    if step == "claim":
        return
    row = _row(runtime, attachment_id)
    store = runtime.store(row.region)
    name = safe_filename(row.temp_key.rsplit("/", 1)[-1])
    final = permanent_key(row.account_id, row.patient_id, row.id, name)
    source = inspect(store, row.temp_key, final, name, 8192)
    if step == "copy":
        store.copy(
            row.temp_key,
            final,
            if_match=source.info.etag,
            content_type=source.content_type,
            content_disposition="attachment",
        )
        return
    assert step == "delete"
    promote(store, source, final, name)


@pytest.mark.parametrize("step", ["claim", "copy", "delete"])
def test_a_later_run_finishes_a_job_whose_worker_died(
    api: Api, tenant: Tenant, runtime: Runtime, step: str
) -> None:
    content = samples.pdf("survives a crash")
    record = api.upload(tenant, "letter.pdf", content)
    attachment_id = int(record["id"])
    _crash_after(step, runtime, attachment_id)

    # while the dead worker's lease runs, nobody else takes the job
    assert Worker(runtime, owner="early").run_until_idle() == 0
    assert _row(runtime, attachment_id).state == "processing"

    _expire_lease(runtime, attachment_id)
    assert Worker(runtime, owner="rescuer").run_until_idle() == 1

    done = api.get(tenant, record["id"])
    assert done["processing_completed"] is True
    assert done["content_type"] == "application/pdf"
    assert done["size"] == len(content)
    keys = [o.key for o in list_keys(runtime.store("au1"), f"{tenant.account_id}/")]
    assert keys == [
        f"{tenant.account_id}/patients/{tenant.patient_id}/attachments/{attachment_id}/letter.pdf"
    ]
    assert api.download(tenant, record["id"]).content == content
    assert _row(runtime, attachment_id).attempts == 2


def test_the_dead_worker_cannot_complete_a_job_it_lost(
    api: Api, tenant: Tenant, runtime: Runtime
) -> None:
    record = api.upload(tenant, "a.pdf", samples.pdf())
    attachment_id = int(record["id"])
    _crash_after("claim", runtime, attachment_id)
    _expire_lease(runtime, attachment_id)
    assert Worker(runtime, owner="rescuer").run_until_idle() == 1
    completed_at = _row(runtime, attachment_id).updated_at
    # the first worker wakes up and tries to finish: it no longer holds the lease
    process(runtime, attachment_id, "dead-worker")
    row = _row(runtime, attachment_id)
    assert row.state == "completed"
    assert row.updated_at == completed_at


def test_processing_twice_changes_nothing(api: Api, tenant: Tenant, runtime: Runtime) -> None:
    record = api.upload(tenant, "a.pdf", samples.pdf())
    api.process_all()
    before = api.get(tenant, record["id"])
    assert api.process_all() == 0
    process(runtime, int(record["id"]), "test-worker")
    assert api.get(tenant, record["id"]) == before


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"worker_missing_object_attempts": 2}


def test_a_missing_object_is_retried_then_fails_and_frees_storage(
    api: Api, tenant: Tenant, runtime: Runtime
) -> None:
    record = api.upload(tenant, "a.pdf", samples.pdf())
    row = _row(runtime, int(record["id"]))
    runtime.store("au1").delete(row.temp_key)
    assert api.process_all() == 2  # first attempt, then the retry (no backoff in tests)
    failed = _row(runtime, int(record["id"]))
    assert failed.state == "failed"
    assert "does not exist" in (failed.failure_reason or "")
    assert failed.reserved_bytes == 0
    with runtime.sessions() as session:
        account = accounts_db.get(session, tenant.account_id)
        assert account is not None and account.storage_used_bytes == 0
    assert api.get(tenant, record["id"])["processing_completed"] is False
