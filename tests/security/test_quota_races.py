"""Fifty clients of one trial account upload at once, while workers process, and together
they ask for far more than the storage limit; a few of them swap their upload for a bigger
one after registering it. On SQLite and on PostgreSQL: the bytes counted never pass the
limit at any moment, nothing is left pending, and afterwards the account's count equals the
real sum of its stored objects."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from clinifile.db import accounts as accounts_db
from clinifile.db.models import Attachment
from clinifile.domain.states import AttachmentState
from clinifile.runtime import Runtime
from clinifile.worker.runner import WorkerPool
from clinifile.worker.sweep import sweep
from tests.factories import Api, make_tenant, s3_post, upload_url, wait_for
from tests.objects import list_keys

LIMIT = 1_000_000
UPLOADS = 50
CHEATERS = {7, 19, 33}  # replace their object with one three times bigger once registered


def _size(i: int) -> int:
    return 30_000 + 1_000 * i  # 50 uploads: 2.7 MB in all, 2.7 times the limit


def _used(runtime: Runtime, account_id: int) -> int:
    with runtime.sessions() as session:
        account = accounts_db.get(session, account_id)
        assert account is not None
        return account.storage_used_bytes


def test_fifty_concurrent_uploads_never_pass_the_limit(api: Api, runtime: Runtime) -> None:
    trial = make_tenant(runtime, plan="trial", storage_limit_bytes=LIMIT)
    peak = 0
    running = threading.Event()
    running.set()

    def watch() -> None:
        nonlocal peak
        while running.is_set():
            peak = max(peak, _used(runtime, trial.account_id))

    def client(i: int) -> str:
        presigned = api.client.get(
            f"/v1/patients/{trial.patient_id}/attachment_presigned_post", auth=trial.auth
        )
        if presigned.status_code == 422:
            assert "storage limit" in presigned.json()["errors"]["base"]
            return "presign refused"
        post, name = presigned.json(), f"{i}.bin"
        stored = s3_post(post, name, bytes([i]) * _size(i))
        if stored.status_code == 400:
            assert "EntityTooLarge" in stored.text
            return "store refused"
        assert stored.status_code == 201, stored.text
        registered = api.register(trial, upload_url(post, name))
        if registered.status_code == 422:
            assert "storage limit" in registered.json()["errors"]["base"]
            return "register refused"
        assert registered.status_code == 201, registered.text
        if i in CHEATERS:
            s3_post(post, name, bytes([i]) * _size(i) * 3)
        return "registered"

    watcher = threading.Thread(target=watch)
    watcher.start()
    pool = WorkerPool(runtime, concurrency=2)
    pool.start()
    try:
        with ThreadPoolExecutor(UPLOADS) as clients:
            outcomes = list(clients.map(client, range(UPLOADS)))
        wait_for(lambda: _unfinished(runtime, trial.account_id) == 0, timeout=120)
    finally:
        pool.stop()
        running.clear()
        watcher.join()

    assert outcomes.count("registered") >= 1
    assert outcomes.count("registered") < UPLOADS, "the limit must have refused some"
    assert peak <= LIMIT

    with runtime.sessions() as session:
        rows = session.scalars(
            select(Attachment).where(Attachment.account_id == trial.account_id)
        ).all()
    completed = [r for r in rows if r.state == AttachmentState.COMPLETED]
    assert len(rows) == outcomes.count("registered")
    assert all(r.state in (AttachmentState.COMPLETED, AttachmentState.FAILED) for r in rows)
    assert all(r.reserved_bytes == 0 for r in rows if r.state == AttachmentState.FAILED)
    used = _used(runtime, trial.account_id)
    assert used == sum(r.size or 0 for r in completed) <= LIMIT

    # uploads that were refused or never registered are abandoned: the sweep removes them
    sweep(runtime, min_age_seconds=0)
    objects = list_keys(runtime.store("au1"), f"{trial.account_id}/")
    assert {o.key for o in objects} == {r.permanent_key for r in completed}
    assert sum(o.size for o in objects) == used


def _unfinished(runtime: Runtime, account_id: int) -> int:
    with runtime.sessions() as session:
        return len(
            session.scalars(
                select(Attachment.id).where(
                    Attachment.account_id == account_id,
                    Attachment.state.in_([AttachmentState.PENDING, AttachmentState.PROCESSING]),
                )
            ).all()
        )


def test_a_post_again_after_processing_is_swept_at_once(api: Api, runtime: Runtime) -> None:
    """The presigned post stays valid for an hour: a client can post to the same key after
    its attachment is processed. Nothing counts those bytes, so the sweep removes them
    without waiting for the age that protects unregistered uploads."""
    trial = make_tenant(runtime, plan="trial", storage_limit_bytes=LIMIT)
    post = api.presign(trial)
    assert s3_post(post, "a.bin", b"a" * 1000).status_code == 201
    assert api.register(trial, upload_url(post, "a.bin")).status_code == 201
    api.process_all()
    assert s3_post(post, "a.bin", b"b" * 900_000).status_code == 201  # the same key again
    unregistered = api.presign(trial)  # a fresh upload nobody registered (yet): kept
    assert s3_post(unregistered, "b.bin", b"c" * 10).status_code == 201
    assert sweep(runtime) == 1
    keys = {o.key for o in list_keys(runtime.store("au1"), f"{trial.account_id}/")}
    assert upload_url(post, "a.bin").removeprefix(post["url"]) not in keys
    assert upload_url(unregistered, "b.bin").removeprefix(unregistered["url"]) in keys
    assert _used(runtime, trial.account_id) == 1000
