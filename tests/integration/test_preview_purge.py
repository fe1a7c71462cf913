"""Previews come after a clean scan, and go with the file: a rescan that quarantines a stored
file deletes its previews with its permanent object. Real clamd, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import os

import pytest
from PIL import Image

from clinifile.db.models import Attachment
from clinifile.worker.rescan import rescan
from tests.clamav import EICAR, ClamdService, hash_signature
from tests.factories import Api, Tenant
from tests.objects import list_keys


@pytest.fixture
def settings_overrides(clamd: ClamdService) -> dict[str, object]:
    return {"scan": "clamd", "clamd_address": clamd.address}


def _unique_png() -> bytes:
    out = io.BytesIO()
    Image.frombytes("RGB", (64, 64), os.urandom(64 * 64 * 3)).save(out, "PNG")
    return out.getvalue()


def _folder_keys(api: Api, attachment_id: str) -> set[str]:
    with api.runtime.sessions() as session:
        row = session.get(Attachment, int(attachment_id))
        assert row is not None
        key = row.permanent_key or row.quarantine_key
    assert key is not None
    folder = key.rsplit("/", 1)[0].replace("/quarantine/", "/")
    return {o.key for o in list_keys(api.runtime.store("au1"), f"{folder}/")}


def test_an_infected_file_gets_no_preview(api: Api, tenant: Tenant) -> None:
    record = api.upload(tenant, "eicar.png", EICAR)
    api.process_all()
    shown = api.get(tenant, record["id"])
    assert shown["processing_state"] == "quarantined" and shown["preview"] is None
    answer = api.client.get(f"/v1/patient_attachments/{record['id']}/preview", auth=tenant.auth)
    assert answer.status_code == 409


def test_a_rescan_that_quarantines_a_file_deletes_its_previews(
    api: Api, tenant: Tenant, clamd: ClamdService
) -> None:
    content = _unique_png()
    record = api.upload(tenant, "scan.png", content)
    api.process_all()
    assert api.get(tenant, record["id"])["preview"] is not None
    assert sum(key.endswith(".webp") for key in _folder_keys(api, record["id"])) == 2

    clamd.add_signature(hash_signature(content, "Clinifile.Test.PreviewedLater"))
    report = rescan(api.runtime, actor="test", account_id=tenant.account_id)
    assert list(report.quarantined) == [int(record["id"])]
    shown = api.get(tenant, record["id"])
    assert shown["processing_state"] == "quarantined" and shown["preview"] is None
    assert _folder_keys(api, record["id"]) == set()  # the file and both previews gone
    answer = api.client.get(f"/v1/patient_attachments/{record['id']}/preview", auth=tenant.auth)
    assert answer.status_code == 409
