"""No log line of a whole flow carries a key, a signature or a credential, even with every
logger at DEBUG and httpx at INFO, where it logs every URL it fetches (a presigned URL
carries its signature): the client redacts what httpx logs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests import log_scan, samples
from tests.factories import Tenant
from tests.live_server import LiveServer


def test_a_whole_flow_at_debug_logs_no_key_signature_or_credential(
    server: LiveServer,
    tenant: Tenant,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    make_client: Callable[..., Any],
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "clinifile", "uvicorn"):
        caplog.set_level(logging.DEBUG, logger=name)
    source = tmp_path / "a.pdf"
    source.write_bytes(samples.pdf())
    with make_client(tenant.key, base_url=server.url) as client:
        record = client.upload(tenant.patient_id, source, wait=True)
        client.download(record["id"], tmp_path / "copy.pdf")
        list(client.audit_events())
    lines = caplog.text.splitlines()
    assert any("HTTP Request" in line for line in lines), "httpx logged its requests"
    assert any("X-Amz-Signature=[redacted]" in line for line in lines), (
        "the download URL was logged, with its signature redacted"
    )
    assert log_scan.findings_in(lines, [tenant.key]) == []
