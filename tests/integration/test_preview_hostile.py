"""Hostile and broken files: each completes without a preview, with its reason recorded,
within a bounded time, and the worker goes on to the next file (the child process took the
hit). On SQLite and PostgreSQL."""

from __future__ import annotations

import io
import time
from collections.abc import Callable

import pytest
from PIL import Image

from clinifile.db.models import Attachment
from clinifile.runtime import Runtime
from clinifile.worker.runner import Worker
from tests import preview_samples as ps
from tests.factories import Api, Tenant

# long enough for a child to start and refuse a bomb on a loaded shared machine (a limit of
# 3 s was missed there once); the slow PDF takes over a minute even on a quiet one
LIMIT_SECONDS = 10.0


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"preview_seconds": LIMIT_SECONDS, "preview_memory_mb": 512}


def slow_pdf(triangles: int = 300_000) -> bytes:
    """One page of filled triangles pdfium takes far longer than the limit to draw."""
    content = b"".join(
        b"%d %d m %d %d l %d %d l f\n"
        % (i % 595, i % 842, (i * 7) % 595, (i * 3) % 842, (i * 5) % 595, (i * 11) % 842)
        for i in range(triangles)
    )
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
    ]
    return ps._pdf(objects, b"<< /Size 5 /Root 1 0 R >>")


def memory_hungry_png() -> bytes:
    """6,000 x 6,000 of noise: about 100 MB decoded, more than the child may hold at once."""
    out = io.BytesIO()
    Image.effect_noise((6000, 6000), 60).convert("RGB").save(out, "PNG", compress_level=1)
    return out.getvalue()


def truncated_jpeg() -> bytes:
    whole = ps.image_bytes("JPEG", quality=95)
    return whole[: len(whole) // 2]


HOSTILE: dict[str, tuple[Callable[[], bytes], str]] = {
    "bomb.png": (ps.png_bomb, "too large"),
    "truncated.jpg": (truncated_jpeg, "truncated"),
    "locked.pdf": (ps.encrypted_pdf, "password"),
    "corrupt.pdf": (lambda: b"%PDF-1.7\n" + bytes(range(256)) * 20, "cannot be opened"),
    "pages.pdf": (lambda: ps.many_page_pdf(10_000), "10000 pages"),
    "bomb.dcm": (ps.dicom_bomb, "60000 x 60000"),
    "slow.pdf": (slow_pdf, f"longer than {LIMIT_SECONDS:g} s"),
}


def _row(runtime: Runtime, attachment_id: str) -> Attachment:
    with runtime.sessions() as session:
        row = session.get(Attachment, int(attachment_id))
        assert row is not None
        return row


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_file_completes_without_a_preview_and_says_why(
    api: Api, tenant: Tenant, name: str
) -> None:
    make, reason = HOSTILE[name]
    record = api.upload(tenant, name, make())
    started = time.monotonic()
    assert api.process_all() == 1
    assert time.monotonic() - started < LIMIT_SECONDS + 10
    shown = api.get(tenant, record["id"])
    assert shown["processing_completed"] is True and shown["preview"] is None
    row = _row(api.runtime, record["id"])
    assert row.preview_state == "none"
    assert row.preview_reason is not None and reason in row.preview_reason
    answer = api.client.get(f"/v1/patient_attachments/{record['id']}/preview", auth=tenant.auth)
    assert answer.status_code == 404
    assert answer.json()["message"].startswith(f"patient attachment {record['id']} has no preview")
    # the file itself is served as ever
    assert api.download(tenant, record["id"]).status_code == 200


def test_over_the_memory_bound_no_preview_and_the_reason(api: Api, tenant: Tenant) -> None:
    record = api.upload(tenant, "huge.png", memory_hungry_png())
    api.runtime.settings.preview_memory_mb = 200
    api.process_all()
    row = _row(api.runtime, record["id"])
    assert row.state == "completed" and row.preview_state == "none"
    assert row.preview_reason == "needed more than 200 MiB of memory"


def test_the_worker_goes_on_past_every_hostile_file(api: Api, tenant: Tenant) -> None:
    """One worker thread, every hostile file queued before a good one: all complete, the good
    one with its preview, in a time bounded by the limit per file."""
    hostile = [api.upload(tenant, name, make())["id"] for name, (make, _) in HOSTILE.items()]
    good = api.upload(tenant, "good.png", ps.image_bytes("PNG"))["id"]
    worker = Worker(api.runtime, owner="hostile-test")
    started = time.monotonic()
    assert worker.run_until_idle() == len(hostile) + 1
    assert time.monotonic() - started < len(HOSTILE) * LIMIT_SECONDS + 20
    for attachment_id in hostile:
        row = _row(api.runtime, attachment_id)
        assert (row.state, row.preview_state) == ("completed", "none"), attachment_id
    assert api.get(tenant, good)["preview"] is not None
