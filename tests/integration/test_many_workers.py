"""Many worker processes on PostgreSQL, crashes, external stores, and the sweep."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from clinifile.api.app import create_app
from clinifile.db import accounts as accounts_db
from clinifile.db.models import Attachment
from clinifile.errors import StorageError
from clinifile.runtime import Runtime, build_runtime, ensure_buckets
from clinifile.services import attachments
from clinifile.services.api_keys import Principal, authenticate
from clinifile.services.object_keys import temp_prefix
from clinifile.services.uploads import issue_temp_id
from clinifile.storage.s3 import S3Store
from clinifile.storage.seaweed import EmbeddedSeaweed
from clinifile.worker.runner import Worker, WorkerPool
from clinifile.worker.sweep import sweep
from tests.factories import Api, Tenant, make_tenant, s3_post, wait_for
from tests.objects import list_keys


def _principal(runtime: Runtime, tenant: Tenant) -> Principal:
    with runtime.sessions() as session:
        return authenticate(session, runtime.settings, tenant.key)


def _put_uploads(runtime: Runtime, tenant: Tenant, count: int, size: int = 100) -> list[int]:
    """count uploads registered through the service, as step 3 does."""
    store = runtime.store(tenant.region)
    principal = _principal(runtime, tenant)
    ids = []
    for i in range(count):
        temp_id = issue_temp_id(runtime.secret, tenant.account_id, tenant.patient_id)
        key = temp_prefix(tenant.account_id, tenant.patient_id, temp_id) + f"f{i}.txt"
        store._client.put_object(Bucket=store.bucket, Key=key, Body=b"x" * size)  # type: ignore[attr-defined]
        record = attachments.create(
            runtime,
            principal,
            patient_id=tenant.patient_id,
            upload_url=store.bucket_url + key,
            description=None,
        )
        ids.append(record.id)
    return ids


def _worker_env(runtime: Runtime, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLINIFILE_")}
    return {
        **env,
        **runtime.settings.as_environment(),
        "CLINIFILE_WORKER_POLL_SECONDS": "0.2",
        **extra,
    }


def _start_worker(runtime: Runtime, log: Path, *args: str, **env: str) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "clinifile.cli", "worker", *args],
            env=_worker_env(runtime, **env),
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def _states(runtime: Runtime, ids: list[int]) -> dict[str, int]:
    with runtime.sessions() as session:
        rows = session.execute(
            select(Attachment.state, func.count())
            .where(Attachment.id.in_(ids))
            .group_by(Attachment.state)
        ).all()
    return {state: n for state, n in rows}


# many worker processes share a queue on PostgreSQL (SKIP LOCKED, LISTEN/NOTIFY)
postgres_only = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@postgres_only
def test_four_worker_processes_process_500_attachments_exactly_once(
    runtime: Runtime, tenant: Tenant, processes: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    ids = _put_uploads(runtime, tenant, 500, size=100)
    for i in range(4):
        processes.append(_start_worker(runtime, tmp_path / f"w{i}.log", "--concurrency", "2"))
    wait_for(lambda: _states(runtime, ids) == {"completed": 500}, timeout=180, interval=0.5)
    with runtime.sessions() as session:
        attempts = session.scalars(select(Attachment.attempts).where(Attachment.id.in_(ids)))
        assert set(attempts) == {1}, "every job was claimed once"
        account = accounts_db.get(session, tenant.account_id)
        assert account is not None and account.storage_used_bytes == 500 * 100
    for process in processes:
        process.send_signal(signal.SIGTERM)
    assert [p.wait(timeout=60) for p in processes] == [0, 0, 0, 0]
    # each process deletes the uploads of its recorded jobs beside its processing, and
    # those still queued before it exits
    keys = list_keys(runtime.store("au1"), f"{tenant.account_id}/")
    assert not [o for o in keys if "/temp/" in o.key]
    assert len(keys) == 500 and sum(o.size for o in keys) == 500 * 100


@postgres_only
def test_a_worker_killed_mid_job_is_finished_later_once(
    runtime: Runtime, tenant: Tenant, processes: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    [attachment_id] = _put_uploads(runtime, tenant, 1, size=256 * 1024 * 1024)
    doomed = _start_worker(runtime, tmp_path / "doomed.log", CLINIFILE_WORKER_LEASE_SECONDS="3")
    processes.append(doomed)
    wait_for(
        lambda: _states(runtime, [attachment_id]) == {"processing": 1}, timeout=60, interval=0.01
    )
    doomed.send_signal(signal.SIGKILL)
    doomed.wait()
    assert _states(runtime, [attachment_id]) == {"processing": 1}
    processes.append(_start_worker(runtime, tmp_path / "rescuer.log"))
    wait_for(lambda: _states(runtime, [attachment_id]) == {"completed": 1}, timeout=90)
    keys = [o.key for o in list_keys(runtime.store("au1"), f"{tenant.account_id}/")]
    assert keys == [
        f"{tenant.account_id}/patients/{tenant.patient_id}/attachments/{attachment_id}/f0.txt"
    ]
    with runtime.sessions() as session:
        row = session.get(Attachment, attachment_id)
        assert row is not None and row.attempts == 2 and row.size == 256 * 1024 * 1024


@postgres_only
def test_new_work_wakes_a_sleeping_worker_within_a_second(runtime: Runtime, tenant: Tenant) -> None:
    # a second runtime plays another process: its worker polls only every minute
    other = build_runtime(runtime.settings.model_copy(update={"worker_poll_seconds": 60}))
    pool = WorkerPool(other, concurrency=1)
    pool.start()
    try:
        assert pool.wakeup is not None and pool.wakeup.listening.wait(10)
        [attachment_id] = _put_uploads(runtime, tenant, 1)
        wait_for(lambda: _states(runtime, [attachment_id]) == {"completed": 1}, timeout=3)
    finally:
        pool.stop()
        other.close()


def test_an_external_store_serves_its_region_only(
    runtime: Runtime, api: Api, tmp_path: Path
) -> None:
    external = EmbeddedSeaweed(tmp_path / "external")
    external.start()
    try:
        assert external.credentials is not None
        regions = [
            *runtime.settings.regions,
            {
                "name": "ca1",
                "bucket": "clinifile-ca1",
                "s3_region": "ca-central-1",
                "endpoint_url": external.endpoint_url,
                "access_key_id": external.credentials.access_key_id,
                "secret_access_key": external.credentials.secret_access_key,
            },
        ]
        settings = runtime.settings.model_validate(
            {**runtime.settings.model_dump(), "regions": regions}
        )
        rt = build_runtime(settings)
        ensure_buckets(rt)
        with TestClient(create_app(rt), headers={"User-Agent": "t"}) as client:
            ca = make_tenant(rt, region="ca1")
            ext_api = Api(client, rt)
            post = ext_api.presign(ca)
            assert post["url"].startswith(external.endpoint_url)
            record = ext_api.upload(ca, "a.pdf", b"%PDF-1.4 external")
            ext_api.process_all()
            assert ext_api.download(ca, record["id"]).content == b"%PDF-1.4 external"
        assert list_keys(rt.store("ca1"), f"{ca.account_id}/")
        for name in ("au1", "uk1"):
            assert not list_keys(rt.store(name), f"{ca.account_id}/")
        rt.close()
    finally:
        external.stop()


def test_sweep_removes_abandoned_uploads_and_nothing_claimed(
    runtime: Runtime, tenant: Tenant, api: Api
) -> None:
    store = runtime.store("au1")
    claimed = api.upload(tenant, "claimed.pdf", b"%PDF-1.4 claimed")  # pending, temp in place
    post = api.presign(tenant)
    assert s3_post(post, "abandoned.pdf", b"%PDF-1.4 abandoned").status_code == 201
    done = api.upload(tenant, "done.pdf", b"%PDF-1.4 done")
    api.process_all()
    api.upload(tenant, "claimed-later.pdf", b"%PDF-1.4 c2")
    before = {o.key for o in list_keys(store, f"{tenant.account_id}/")}
    # a young abandoned upload survives a sweep with the default age
    assert sweep(runtime) == 0
    assert sweep(runtime, min_age_seconds=0) == 1
    after = {o.key for o in list_keys(store, f"{tenant.account_id}/")}
    assert before - after == {k for k in before if k.endswith("/abandoned.pdf")}
    assert any(k.endswith(f"/{done['id']}/done.pdf") for k in after)
    api.process_all()
    assert api.get(tenant, claimed["id"])["processing_completed"] is True


class _RefusingStore(S3Store):
    """The real store, except that it refuses to delete anything under one prefix (as an
    object lock or a bucket policy makes AWS refuse keys in a DeleteObjects answer)."""

    def __init__(self, store: S3Store, refused_prefix: str) -> None:
        super().__init__(store._client, store.bucket)
        self.refused_prefix = refused_prefix

    def delete_many(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        if any(k.startswith(self.refused_prefix) for k in keys):
            raise StorageError(f"object store refused to delete {keys[0]!r} (AccessDenied)")
        super().delete_many(keys)


def test_a_store_refusing_one_accounts_deletes_does_not_stop_the_sweep(
    runtime: Runtime, tenant: Tenant, other_tenant: Tenant, api: Api
) -> None:
    for clinic in (tenant, other_tenant):
        assert s3_post(api.presign(clinic), "abandoned.pdf", b"%PDF-1.4 x").status_code == 201
    real = runtime.stores["au1"]
    assert isinstance(real, S3Store)
    runtime.stores["au1"] = _RefusingStore(real, f"{tenant.account_id}/")
    try:
        assert sweep(runtime, min_age_seconds=0) == 1
    finally:
        runtime.stores["au1"] = real
    assert [o.key for o in list_keys(real, f"{other_tenant.account_id}/")] == []
    assert len(list_keys(real, f"{tenant.account_id}/")) == 1
    assert sweep(runtime, min_age_seconds=0) == 1  # the store relents: the next pass removes it
    assert list_keys(real, f"{tenant.account_id}/") == []


def test_readyz_reports_database_and_storage(api: Api, runtime: Runtime) -> None:
    assert api.client.get("/readyz").json() == {"status": "ready"}
    assert api.client.get("/healthz").status_code == 200
    broken = runtime.settings.model_copy(update={"s3_endpoint_url": "http://127.0.0.1:9"})
    rt = build_runtime(broken)
    with TestClient(create_app(rt)) as client:
        response = client.get("/readyz")
    rt.close()
    assert response.status_code == 503
    assert "object store of region au1" in response.json()["message"]


@postgres_only
def test_graceful_stop_hands_back_a_job_it_cannot_finish_in_time(
    runtime: Runtime, tenant: Tenant
) -> None:
    [attachment_id] = _put_uploads(runtime, tenant, 1, size=256 * 1024 * 1024)
    pool = WorkerPool(runtime, concurrency=1)
    pool.start()
    wait_for(
        lambda: _states(runtime, [attachment_id]) == {"processing": 1}, timeout=30, interval=0.01
    )
    pool.stop(timeout=0)  # no time to finish: the lease goes back at once
    assert _states(runtime, [attachment_id]) == {"pending": 1}
    assert pool.workers[0].join(60)  # the interrupted job ends; it cannot complete the row
    assert _states(runtime, [attachment_id]) == {"pending": 1}
    assert Worker(runtime, owner="next").run_until_idle() == 1
    with runtime.sessions() as session:
        row = session.get(Attachment, attachment_id)
        assert row is not None and row.state == "completed" and row.attempts == 2
    keys = list_keys(runtime.store("au1"), f"{tenant.account_id}/")
    assert [o.size for o in keys] == [256 * 1024 * 1024]
