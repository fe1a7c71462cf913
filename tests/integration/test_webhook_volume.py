"""Many uploads, many endpoints: every event reaches every endpoint, none before its change
is visible. The uploads are real (small) objects in the store, registered through the
service as step 3 does; a `clinifile worker` process processes them and delivers as it
always does."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import select

from clinifile.db.models import Attachment
from clinifile.domain.states import AttachmentState
from clinifile.runtime import Runtime
from clinifile.services import attachments
from clinifile.services.api_keys import Principal, authenticate
from clinifile.services.object_keys import temp_prefix
from clinifile.services.uploads import issue_temp_id
from tests import log_scan
from tests.factories import Api, Tenant, wait_for
from tests.receivers import Receiver, receiver

UPLOADS = 1000
CREATED, PROCESSED = "patient_attachment.created", "patient_attachment.processed"


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"webhook_allow_private": True, "webhook_poll_seconds": 0.05}


def _register(runtime: Runtime, tenant: Tenant, count: int) -> list[int]:
    with runtime.sessions() as session:
        principal: Principal = authenticate(session, runtime.settings, tenant.key)
    store = runtime.store(tenant.region)
    temp_id = issue_temp_id(runtime.secret, tenant.account_id, tenant.patient_id)
    prefix = temp_prefix(tenant.account_id, tenant.patient_id, temp_id)

    def one(n: int) -> int:
        key = f"{prefix}f{n}.txt"
        store._client.put_object(Bucket=store.bucket, Key=key, Body=b"note %d" % n)  # type: ignore[attr-defined]
        record = attachments.create(
            runtime,
            principal,
            patient_id=tenant.patient_id,
            upload_url=store.bucket_url + key,
            description=None,
        )
        return record.id

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, range(count)))


def _state_when_received(runtime: Runtime):  # type: ignore[no-untyped-def]
    """A receiver's check: the attachment, read when the event arrives, is already in the
    state the event reports (the change was committed before it was sent)."""

    def check(body: bytes) -> None:
        event = json.loads(body)
        attachment_id = int(event["data"]["id"])
        with runtime.read_engine.connect() as conn:
            state = conn.scalar(select(Attachment.state).where(Attachment.id == attachment_id))
        assert state is not None, f"{event['type']} of attachment {attachment_id} before it exists"
        if event["type"] == PROCESSED:
            assert state == AttachmentState.COMPLETED, f"early: {state}"

    return check


def _unique(hook: Receiver, event_type: str) -> set[str]:
    return {e["data"]["id"] for e in hook.events() if e["type"] == event_type}


def _worker(runtime: Runtime, log: Path) -> subprocess.Popen[bytes]:
    """`clinifile worker` in a process of its own, as deployed: it processes and delivers
    while this process registers uploads and receives."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLINIFILE_")}
    env.update(runtime.settings.as_environment(), CLINIFILE_SCAN="off")
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "clinifile.cli", "worker", "--concurrency", "4"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def test_a_thousand_uploads_reach_three_endpoints(
    api: Api, runtime: Runtime, tenant: Tenant, tmp_path: Path
) -> None:
    check = _state_when_received(runtime)
    with receiver(check=check) as a, receiver(check=check) as b, receiver(check=check) as c:
        for hook in (a, b, c):
            response = api.client.post(
                "/v1/webhook_endpoints",
                json={"url": hook.url, "events": [CREATED, PROCESSED]},
                auth=tenant.auth,
            )
            assert response.status_code == 201
            log_scan.remember_secret(response.json()["secret"])
        worker = _worker(runtime, tmp_path / "worker.log")
        try:
            ids = {str(i) for i in _register(runtime, tenant, UPLOADS)}
            for hook in (a, b, c):
                wait_for(lambda h=hook: _unique(h, PROCESSED) == ids, timeout=90, interval=0.5)
                wait_for(lambda h=hook: _unique(h, CREATED) == ids, timeout=10, interval=0.5)
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=60)
            log_scan.keep_log_records((tmp_path / "worker.log").read_text(), "volume-worker")
    for hook in (a, b, c):
        assert hook.problems == []
        webhook_ids = {r.headers["webhook-id"] for r in hook.requests}
        assert len(webhook_ids) == 2 * UPLOADS
