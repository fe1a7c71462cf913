"""A worker pool makes previews beside its processing: a file that takes long to preview
holds up no other file's processing (worker.previewer). On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from clinifile.db.models import Attachment
from clinifile.worker.runner import WorkerPool
from tests import preview_samples as ps
from tests.factories import Api, Tenant, wait_for
from tests.integration.test_preview_hostile import LIMIT_SECONDS, slow_pdf


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"preview_seconds": LIMIT_SECONDS}


def _preview_state(api: Api, attachment_id: str) -> str | None:
    with api.runtime.sessions() as session:
        row = session.get(Attachment, int(attachment_id))
        assert row is not None
        return row.preview_state


def test_a_slow_preview_does_not_hold_up_the_next_files_processing(
    api: Api, tenant: Tenant
) -> None:
    slow = api.upload(tenant, "slow.pdf", slow_pdf())["id"]
    pool = WorkerPool(api.runtime, concurrency=1)
    pool.start()
    try:
        wait_for(lambda: api.get(tenant, slow)["processing_completed"], timeout=60)
        good = api.upload(tenant, "good.png", ps.image_bytes("PNG"))["id"]
        api.runtime.work_enqueued()
        # processed while the slow PDF's preview is still being drawn (it takes its whole
        # limit, LIMIT_SECONDS, before the child is stopped)
        wait_for(lambda: api.get(tenant, good)["processing_completed"], timeout=LIMIT_SECONDS)
        assert _preview_state(api, slow) is None
        # then both get their outcome, in turn
        wait_for(lambda: _preview_state(api, slow) == "none", timeout=LIMIT_SECONDS + 30)
        wait_for(lambda: api.get(tenant, good)["preview"] is not None, timeout=60)
    finally:
        pool.stop(timeout=LIMIT_SECONDS + 30)
