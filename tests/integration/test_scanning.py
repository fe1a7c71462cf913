"""Every upload scanned by a real clamd before anyone can open it: EICAR and ClamAV's own test
files in every disguise are quarantined (never served, bytes still counted, audited); clean
files of each kind complete with their scan recorded; blocked types are quarantined too."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest.mock import Mock

import httpx
import pytest

from clinifile.db import accounts as accounts_db
from clinifile.db.models import Attachment
from clinifile.errors import PreconditionFailed, StorageUnavailable
from clinifile.runtime import Runtime
from clinifile.services.object_keys import permanent_key, quarantine_key
from clinifile.worker import promotion, steps
from clinifile.worker.runner import Worker
from clinifile.worker.sweep import sweep
from tests import samples
from tests.clamav import (
    CLAM_EXE,
    EICAR,
    EICAR_BODY,
    ClamdService,
    clamav_testfile,
    pdf_with_stream,
    zipped,
)
from tests.crashes import expire_lease
from tests.factories import Api, Tenant, s3_post, upload_url
from tests.objects import list_keys

MiB = 1024 * 1024


@pytest.fixture
def settings_overrides(clamd: ClamdService) -> dict[str, object]:
    return {"scan": "clamd", "clamd_address": clamd.address, "clamd_timeout_seconds": 30}


def _row(runtime: Runtime, attachment_id: str) -> Attachment:
    with runtime.sessions() as session:
        row = session.get(Attachment, int(attachment_id))
        assert row is not None
        return row


def _used(runtime: Runtime, account_id: int) -> int:
    with runtime.sessions() as session:
        account = accounts_db.get(session, account_id)
        assert account is not None
        return account.storage_used_bytes


def _keys(runtime: Runtime, tenant: Tenant) -> list[str]:
    return [o.key for o in list_keys(runtime.store("au1"), f"{tenant.account_id}/")]


def _actions(api: Api, tenant: Tenant, attachment_id: str) -> list[dict[str, Any]]:
    response = api.client.get(
        "/v1/audit_events",
        params={"q[]": f"attachment_id:={attachment_id}", "sort": "id"},
        auth=tenant.auth,
    )
    assert response.status_code == 200, response.text
    return response.json()["audit_events"]  # type: ignore[no-any-return]


def assert_quarantined(
    api: Api, runtime: Runtime, tenant: Tenant, record: dict[str, Any], signature: str, size: int
) -> None:
    """What a clinic and an operator see of a quarantined file."""
    shown = api.get(tenant, record["id"])
    assert shown["processing_completed"] is False
    assert shown["processing_state"] == "quarantined"
    assert shown["content"] is None and shown["checksum_sha256"] is None
    row = _row(runtime, record["id"])
    shown_as = (shown["filename"], shown["size"], shown["content_type"])
    assert shown_as == (row.filename, size, row.content_type), "which upload it was"
    assert shown["scan"]["status"] == "infected"
    assert shown["scan"]["signature"].startswith(signature)
    assert shown["scan"]["scanned_at"] is not None
    assert signature in shown["processing_error"]
    content = api.client.get(f"/v1/patient_attachments/{record['id']}/content", auth=tenant.auth)
    assert content.status_code == 409
    assert signature in content.json()["message"]
    assert "quarantined" in content.json()["message"]
    row = _row(runtime, record["id"])
    held = quarantine_key(tenant.account_id, tenant.patient_id, row.id, row.filename or "")
    assert _keys(runtime, tenant) == [held], "only the quarantined copy is left"
    assert row.permanent_key is None
    assert _used(runtime, tenant.account_id) == size, "its bytes stay counted"
    [created, quarantined] = _actions(api, tenant, record["id"])
    assert created["action"] == "patient_attachment.create"
    assert quarantined["action"] == "patient_attachment.quarantine"
    assert signature in quarantined["reason"]
    assert quarantined["api_key_id"] is None and "worker" in quarantined["user_agent"]


EICAR_DISGUISES = [
    ("eicar.com", EICAR),
    ("notes.zip", zipped(("readme.txt", b"hello"), ("eicar.txt", EICAR))),
    ("referral.pdf", pdf_with_stream(b"BT /F1 12 Tf (Referral) Tj ET\n" + EICAR)),
    ("holiday.jpg", EICAR),
]


@pytest.mark.parametrize(("name", "content"), EICAR_DISGUISES, ids=[d[0] for d in EICAR_DISGUISES])
def test_eicar_is_quarantined_in_every_disguise(
    api: Api, runtime: Runtime, tenant: Tenant, name: str, content: bytes
) -> None:
    record = api.upload(tenant, name, content)
    assert api.process_all() == 1
    assert_quarantined(api, runtime, tenant, record, "Clinifile.Test.EICAR", len(content))


CLAMAV_TEST_FILES = [
    # ClamAV's own test program, and it packed and nested: its real unpackers at work
    ("clam.exe", lambda: clamav_testfile("clam.exe")),
    ("clam.zip", lambda: clamav_testfile("clam.zip")),
    ("clam.pdf", lambda: clamav_testfile("clam.pdf")),  # clam.exe embedded in a PDF
    ("clam.tar.gz", lambda: clamav_testfile("clam.tar.gz")),
    ("nested.zip", lambda: zipped(("inner/clam.zip", clamav_testfile("clam.zip")))),
]


@pytest.mark.parametrize(("name", "make"), CLAMAV_TEST_FILES, ids=[f[0] for f in CLAMAV_TEST_FILES])
def test_clamavs_test_files_are_quarantined_after_unpacking(
    api: Api, runtime: Runtime, tenant: Tenant, name: str, make: Any
) -> None:
    content = make()
    record = api.upload(tenant, name, content)
    assert api.process_all() == 1
    # clam.exe is also a blocked type: what the scanner found is what the clinic is told
    assert_quarantined(api, runtime, tenant, record, CLAM_EXE, len(content))


CLEAN_KINDS = [
    ("letter.txt", samples.TEXT, "text/plain"),
    ("letters.zip", zipped(("a.txt", samples.TEXT), ("b.pdf", samples.pdf())), "application/zip"),
    ("referral.pdf", pdf_with_stream(b"BT /F1 12 Tf (Referral) Tj ET\n"), "application/pdf"),
    ("holiday.jpg", samples.png(), "image/png"),
]


@pytest.mark.parametrize(("name", "content", "kind"), CLEAN_KINDS, ids=[c[0] for c in CLEAN_KINDS])
def test_a_clean_file_of_each_kind_completes_with_its_scan(
    api: Api,
    runtime: Runtime,
    tenant: Tenant,
    clamd: ClamdService,
    name: str,
    content: bytes,
    kind: str,
) -> None:
    record = api.upload(tenant, name, content)
    assert api.get(tenant, record["id"])["scan"] == {
        "status": "not_scanned",
        "signature": None,
        "scanned_at": None,
    }
    assert api.process_all() == 1
    shown = api.get(tenant, record["id"])
    assert (shown["processing_state"], shown["processing_completed"]) == ("completed", True)
    assert shown["processing_error"] is None
    assert shown["content_type"] == kind
    assert shown["scan"]["status"] == "clean" and shown["scan"]["signature"] is None
    assert shown["scan"]["scanned_at"] is not None
    assert _row(runtime, record["id"]).scan_signature_version == clamd.version()
    assert api.download(tenant, record["id"]).content == content


def test_eicar_at_the_end_of_a_200_mib_file_is_found(
    api: Api, runtime: Runtime, tenant: Tenant, tmp_path: Path
) -> None:
    """Streamed through: from a sparse file on disk to the store, and from the store to
    clamd in 1 MiB chunks; neither this test nor the worker holds the file."""
    big = tmp_path / "scan.bin"
    with big.open("wb") as f:
        f.truncate(200 * MiB)
        f.seek(0, 2)
        f.write(EICAR)
    size = big.stat().st_size
    post = api.presign(tenant)
    with big.open("rb") as f:
        stored = httpx.post(
            post["url"], data=post["fields"], files={"file": ("scan.bin", f)}, timeout=300
        )
    assert stored.status_code == 201, stored.text
    response = api.register(tenant, upload_url(post, "scan.bin"))
    assert response.status_code == 201, response.text
    assert api.process_all() == 1
    assert_quarantined(api, runtime, tenant, response.json(), EICAR_BODY, size)


BLOCKED = [
    # clean by the scanner, refused by the type policy
    ("setup.exe", b"MZ" + b"\x90" * 62 + b"PE\x00\x00" + b"\x00" * 200, "Windows program"),
    ("tool", b"\x7fELF\x02\x01\x01" + b"\x00" * 200, "Linux (ELF) program"),
    ("app.pdf", bytes.fromhex("cffaedfe") + b"\x07\x00\x00\x01" + b"\x00" * 200, "macOS"),
]


@pytest.mark.parametrize(("name", "content", "kind"), BLOCKED, ids=[b[0] for b in BLOCKED])
def test_a_clean_program_is_quarantined_by_the_type_policy(
    api: Api, runtime: Runtime, tenant: Tenant, name: str, content: bytes, kind: str
) -> None:
    record = api.upload(tenant, name, content)
    assert api.process_all() == 1
    shown = api.get(tenant, record["id"])
    assert shown["processing_state"] == "quarantined"
    assert shown["scan"]["status"] == "clean"
    assert kind in shown["processing_error"]
    content_answer = api.client.get(
        f"/v1/patient_attachments/{record['id']}/content", auth=tenant.auth
    )
    assert content_answer.status_code == 409 and kind in content_answer.json()["message"]
    assert _used(runtime, tenant.account_id) == len(content)


def test_lists_filter_on_processing_state(api: Api, runtime: Runtime, tenant: Tenant) -> None:
    clean = api.upload(tenant, "a.pdf", samples.pdf())
    infected = api.upload(tenant, "b.pdf", EICAR)
    assert api.process_all() == 2
    pending = api.upload(tenant, "c.pdf", samples.pdf())

    def ids(state_filter: str) -> list[str]:
        response = api.client.get(
            "/v1/patient_attachments", params={"q[]": state_filter}, auth=tenant.auth
        )
        assert response.status_code == 200, response.text
        return [r["id"] for r in response.json()["patient_attachments"]]

    assert ids("processing_state:=quarantined") == [infected["id"]]
    assert ids("processing_state:=completed") == [clean["id"]]
    assert ids("processing_state:!=completed") == [infected["id"], pending["id"]]
    refused = api.client.get(
        "/v1/patient_attachments", params={"q[]": "processing_state:>a"}, auth=tenant.auth
    )
    assert refused.status_code == 400 and "processing_state" in refused.json()["message"]


def test_an_upload_swapped_after_its_scan_is_scanned_again(
    api: Api, runtime: Runtime, tenant: Tenant
) -> None:
    """A client replaces its clean upload with EICAR after the worker scanned it but before
    the copy: the copy names the scanned version (if-match), so the swap is caught and the
    new bytes are scanned before anything is served."""
    post = api.presign(tenant)
    assert s3_post(post, "a.pdf", samples.pdf()).status_code == 201
    record = api.register(tenant, upload_url(post, "a.pdf")).json()
    worker = Worker(runtime, owner="racer")
    assert (claimed := worker.claim()) and claimed.id == int(record["id"])
    job = steps.lease(runtime, int(record["id"]), "racer")
    assert job is not None
    source = steps.inspect(runtime, job)
    assert source.scan is not None and source.scan.signature is None
    assert s3_post(post, "a.pdf", EICAR).status_code == 201  # the swap
    with pytest.raises(PreconditionFailed):
        steps.promote(runtime, job, source)
    assert _keys(runtime, tenant) == [_row(runtime, record["id"]).temp_key], "nothing served"
    final = permanent_key(tenant.account_id, tenant.patient_id, int(record["id"]), "a.pdf")
    assert final not in _keys(runtime, tenant)

    expire_lease(runtime, int(record["id"]))
    assert api.process_all() == 1
    assert_quarantined(api, runtime, tenant, record, "Clinifile.Test.EICAR", len(EICAR))


def test_a_store_failing_while_quarantining_retries_the_job(
    api: Api, runtime: Runtime, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = api.upload(tenant, "eicar.com", EICAR)
    real_copy = promotion.copy_verified
    monkeypatch.setattr(
        promotion, "copy_verified", Mock(side_effect=StorageUnavailable("the store is down"))
    )
    assert Worker(runtime, owner="w").run_once()
    row = _row(runtime, record["id"])
    assert (row.state, row.attempts) == ("pending", 1)
    assert "the store is down" in (row.failure_reason or "")
    assert _keys(runtime, tenant) == [row.temp_key], "nothing served, nothing lost"
    monkeypatch.setattr(promotion, "copy_verified", real_copy)
    assert api.process_all() == 1
    assert_quarantined(api, runtime, tenant, record, "Clinifile.Test.EICAR", len(EICAR))


def test_bytes_posted_again_to_a_quarantined_upload_are_swept(
    api: Api, runtime: Runtime, tenant: Tenant
) -> None:
    post = api.presign(tenant)
    assert s3_post(post, "e.com", EICAR).status_code == 201
    record = api.register(tenant, upload_url(post, "e.com")).json()
    assert api.process_all() == 1
    assert s3_post(post, "e.com", b"again" * 100).status_code == 201  # the post is still valid
    assert sweep(runtime) == 1
    row = _row(runtime, record["id"])
    assert _keys(runtime, tenant) == [row.quarantine_key]
    assert _used(runtime, tenant.account_id) == len(EICAR)
