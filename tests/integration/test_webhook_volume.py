"""Many uploads, many endpoints: every event reaches every endpoint, none before its change
is visible. The uploads are real (small) objects in the store, registered through the
service as step 3 does; the worker processes them and delivers as it always does."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from clinifile.api.presenters import attachment_at
from clinifile.db.models import Attachment
from clinifile.domain.states import AttachmentState
from clinifile.runtime import Runtime
from clinifile.services import attachments
from clinifile.services.api_keys import Principal, authenticate
from clinifile.services.object_keys import temp_prefix
from clinifile.services.uploads import issue_temp_id
from clinifile.worker.runner import WorkerPool
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
        with runtime.reads() as conn:
            state = conn.scalar(select(Attachment.state).where(Attachment.id == attachment_id))
        assert state is not None, f"{event['type']} of attachment {attachment_id} before it exists"
        if event["type"] == PROCESSED:
            assert state == AttachmentState.COMPLETED, f"early: {state}"

    return check


def _unique(hook: Receiver, event_type: str) -> set[str]:
    return {e["data"]["id"] for e in hook.events() if e["type"] == event_type}


def test_a_thousand_uploads_reach_three_endpoints(
    api: Api, runtime: Runtime, tenant: Tenant
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
        pool = WorkerPool(runtime, concurrency=4, render=attachment_at)
        pool.start()
        try:
            ids = {str(i) for i in _register(runtime, tenant, UPLOADS)}
            for hook in (a, b, c):
                wait_for(lambda h=hook: _unique(h, PROCESSED) == ids, timeout=90, interval=0.5)
                wait_for(lambda h=hook: _unique(h, CREATED) == ids, timeout=10, interval=0.5)
        finally:
            pool.stop(10)
    for hook in (a, b, c):
        assert hook.problems == []
        webhook_ids = {r.headers["webhook-id"] for r in hook.requests}
        assert len(webhook_ids) == 2 * UPLOADS
