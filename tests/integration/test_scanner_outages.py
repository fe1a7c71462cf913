"""Fail closed: while clamd is down, dies mid-stream, answers too slowly or refuses a file
past its limits, nothing completes unscanned; /readyz says why; the jobs wait with backoff
and, once clamd is back, the backlog drains; after the budget a job fails with a reason."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from clinifile.db import accounts as accounts_db
from clinifile.db.models import Attachment
from clinifile.db.types import utcnow
from clinifile.runtime import Runtime, build_runtime
from clinifile.scanning import clamd as clamd_protocol
from clinifile.worker.runner import Worker, WorkerPool
from tests import samples
from tests.clamav import ClamdService, running_clamd
from tests.factories import Api, Tenant, wait_for

MiB = 1024 * 1024


@pytest.fixture
def own_clamd(tmp_path_factory: pytest.TempPathFactory, clamd: ClamdService) -> Iterator[Any]:
    """A clamd of this test's own (on the session's signatures), free to stop and slow."""
    with running_clamd(tmp_path_factory.mktemp("own"), clamd.database) as service:
        yield service


@pytest.fixture
def settings_overrides(own_clamd: ClamdService) -> dict[str, object]:
    return {"scan": "clamd", "clamd_address": own_clamd.address, "clamd_timeout_seconds": 2}


@contextmanager
def runtime_with(runtime: Runtime, **update: Any) -> Iterator[Runtime]:
    """The same database and store, other settings."""
    other = build_runtime(runtime.settings.model_copy(update=update))
    try:
        yield other
    finally:
        other.close()


def _rows(runtime: Runtime, ids: list[str]) -> list[Attachment]:
    with runtime.sessions() as session:
        return [row for i in ids if (row := session.get(Attachment, int(i))) is not None]


def _make_due(runtime: Runtime, ids: list[str]) -> None:
    with runtime.transaction() as session:
        session.execute(
            update(Attachment)
            .where(Attachment.id.in_([int(i) for i in ids]))
            .values(next_attempt_at=utcnow())
        )


def _used(runtime: Runtime, account_id: int) -> int:
    with runtime.sessions() as session:
        account = accounts_db.get(session, account_id)
        assert account is not None
        return account.storage_used_bytes


def _not_served(api: Api, tenant: Tenant, attachment_id: str) -> str:
    content = api.client.get(f"/v1/patient_attachments/{attachment_id}/content", auth=tenant.auth)
    assert content.status_code == 409, content.text
    return str(content.json()["message"])


def test_clamd_down_nothing_completes_readyz_says_why_and_the_backlog_drains(
    api: Api, client: TestClient, runtime: Runtime, tenant: Tenant, own_clamd: ClamdService
) -> None:
    ids = [api.upload(tenant, f"{i}.pdf", samples.pdf(f"letter {i}"))["id"] for i in range(3)]
    assert client.get("/readyz").status_code == 200
    own_clamd.clamd.stop()

    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert "virus scanner" in ready.json()["message"]
    assert own_clamd.address in ready.json()["message"]
    with runtime_with(runtime, worker_backoff_base_seconds=100.0) as patient:
        assert Worker(patient, owner="no-scanner").run_until_idle() == 3
    for row in _rows(runtime, ids):
        assert (row.state, row.attempts) == ("pending", 1)
        assert "cannot be reached" in (row.failure_reason or "")
        assert (row.next_attempt_at - row.updated_at).total_seconds() >= 49, "with backoff"
    for attachment_id in ids:
        shown = api.get(tenant, attachment_id)
        assert (shown["processing_state"], shown["processing_completed"]) == ("pending", False)
        assert shown["processing_error"] is None and shown["scan"]["status"] == "not_scanned"
        assert "still being processed" in _not_served(api, tenant, attachment_id)

    own_clamd.clamd.start()
    assert client.get("/readyz").status_code == 200
    _make_due(runtime, ids)  # what time does to jobs waiting for their retry
    pool = WorkerPool(runtime, concurrency=1)
    pool.start()
    try:
        wait_for(lambda: {r.state for r in _rows(runtime, ids)} == {"completed"}, timeout=60)
    finally:
        pool.stop(10)
    for attachment_id in ids:
        assert api.get(tenant, attachment_id)["scan"]["status"] == "clean"
        assert api.download(tenant, attachment_id).status_code == 200


def test_clamd_dying_mid_stream_is_retried_never_completed(
    api: Api,
    runtime: Runtime,
    tenant: Tenant,
    own_clamd: ClamdService,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    content = b"%PDF-1.4\n" + b"\x00" * (3 * MiB)  # four chunks to stream
    record = api.upload(tenant, "scan.pdf", content)
    real_send = clamd_protocol.Stream.send
    sent: list[int] = []

    def send_then_die(stream: clamd_protocol.Stream, chunk: bytes) -> None:
        sent.append(len(chunk))
        if len(sent) == 2:  # clamd is killed while the upload streams to it
            assert own_clamd.clamd.process is not None
            own_clamd.clamd.process.kill()
            own_clamd.clamd.process.wait()
        real_send(stream, chunk)

    monkeypatch.setattr(clamd_protocol.Stream, "send", send_then_die)
    assert Worker(runtime, owner="cut-off").run_once()
    [row] = _rows(runtime, [record["id"]])
    assert (row.state, row.attempts, row.scan_status) == ("pending", 1, None)
    assert "virus scanner" in (row.failure_reason or "")
    assert len(sent) == 2, "it stopped where clamd died"
    monkeypatch.setattr(clamd_protocol.Stream, "send", real_send)

    own_clamd.clamd.start()
    assert api.process_all() == 1
    assert api.get(tenant, record["id"])["scan"]["status"] == "clean"
    assert api.download(tenant, record["id"]).content == content


def test_a_clamd_that_answers_too_slowly_times_out_and_is_retried(
    api: Api, runtime: Runtime, tenant: Tenant, own_clamd: ClamdService
) -> None:
    record = api.upload(tenant, "a.pdf", samples.pdf())
    process = own_clamd.clamd.process
    assert process is not None
    with runtime_with(runtime, clamd_timeout_seconds=1.0) as impatient:
        process.send_signal(signal.SIGSTOP)  # clamd accepts connections, answers nothing
        try:
            assert Worker(impatient, owner="impatient").run_once()
        finally:
            process.send_signal(signal.SIGCONT)
    [row] = _rows(runtime, [record["id"]])
    assert (row.state, row.attempts) == ("pending", 1)
    assert "did not answer within 1 s" in (row.failure_reason or "")
    assert api.process_all() == 1
    assert api.get(tenant, record["id"])["processing_state"] == "completed"


def test_a_scan_never_given_fails_the_file_after_its_budget(
    api: Api, runtime: Runtime, tenant: Tenant, own_clamd: ClamdService
) -> None:
    record = api.upload(tenant, "a.pdf", samples.pdf())
    own_clamd.clamd.stop()
    with runtime_with(runtime, scan_max_attempts=2) as short:
        assert Worker(short, owner="w").run_until_idle() == 2  # no backoff in the tests
    shown = api.get(tenant, record["id"])
    assert (shown["processing_state"], shown["processing_completed"]) == ("failed", False)
    assert shown["processing_error"].startswith("gave up after 2 attempts: the virus scanner")
    assert "not checked for malware" in shown["processing_error"]
    assert "could not be processed" in _not_served(api, tenant, record["id"])
    assert _used(runtime, tenant.account_id) == 0


def test_a_file_past_clamds_stream_limit_is_never_completed_unscanned(
    api: Api, runtime: Runtime, tenant: Tenant, clamd: ClamdService, tmp_path_factory: Any
) -> None:
    record = api.upload(tenant, "big.pdf", b"%PDF-1.4\n" + b"\x01" * (3 * MiB))
    root = tmp_path_factory.mktemp("small")
    with running_clamd(root, clamd.database, max_file_bytes=MiB) as small:
        limited = runtime_with(runtime, clamd_address=small.address, scan_max_attempts=2)
        with limited as rt:
            assert Worker(rt, owner="w").run_until_idle() == 2
    shown = api.get(tenant, record["id"])
    assert shown["processing_state"] == "failed"
    assert "larger than the virus scanner takes" in shown["processing_error"]
    assert shown["scan"]["status"] == "not_scanned"
