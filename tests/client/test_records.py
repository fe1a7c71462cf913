"""Patients, descriptions, archiving, whole q[] filters and cancelling, through both clients
(AsyncClient lacked them while it was a hand-made copy)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from clinifile.client import NotFound, RetryPolicy, UploadCancelled
from tests import samples
from tests.factories import Tenant
from tests.live_server import LiveServer

FAST = RetryPolicy(attempts=6, base=0.1, cap=1.0)
MakeClient = Callable[..., Any]


def test_patients_descriptions_and_archive(
    server: LiveServer, tenant: Tenant, tmp_path: Path, make_client: MakeClient
) -> None:
    source = tmp_path / "a.png"
    source.write_bytes(samples.png())
    with make_client(tenant.key, server.url, retry=FAST) as client:
        patient = client.patient(tenant.patient_id)
        assert (patient["first_name"], patient["last_name"]) == ("Ada", "Lovelace")
        assert [p["id"] for p in client.patients(last_name="Lovelace")] == [patient["id"]]
        assert [p["id"] for p in client.patients(filters=["first_name:~Ad"])] == [patient["id"]]
        assert list(client.patients(filters=["first_name:=Grace"])) == []
        with pytest.raises(NotFound):
            client.patient(999999)

        record = client.upload(tenant.patient_id, source, description="before", wait=True)
        assert client.update_description(record["id"], "after")["description"] == "after"
        assert client.attachment(record["id"])["description"] == "after"
        found = client.attachments(tenant.patient_id, filters=["content_type:=image/png"])
        assert [r["id"] for r in found] == [record["id"]]

        assert client.archive(record["id"]) is None
        assert list(client.attachments(tenant.patient_id)) == []
        archived = client.attachments(tenant.patient_id, archived_at="*")
        assert [r["id"] for r in archived] == [record["id"]]


@pytest.mark.parametrize("event", [threading.Event, asyncio.Event])
def test_a_cancelled_upload_is_not_registered(
    server: LiveServer,
    tenant: Tenant,
    tmp_path: Path,
    make_client: MakeClient,
    event: Callable[[], Any],
) -> None:
    source = tmp_path / "a.pdf"
    source.write_bytes(samples.pdf())
    cancel = event()
    cancel.set()
    with make_client(tenant.key, server.url, retry=FAST) as client:
        with pytest.raises(UploadCancelled, match="not registered"):
            client.upload(tenant.patient_id, source, cancel=cancel)
        assert list(client.attachments(archived_at="*")) == []
