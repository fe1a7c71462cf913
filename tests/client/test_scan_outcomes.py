"""A file that will never be served ends the wait at once, with the reason: both clients
raise Quarantined (infected, naming the signature, or a blocked type) or ProcessingFailed
(no verdict before the budget ran out), and `clinifile upload --wait` prints it and exits
non-zero; against a real clinifile server and a real clamd."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from clinifile.client import ClinifileError, ProcessingFailed, Quarantined, RetryPolicy
from tests import samples
from tests.clamav import EICAR, ClamdService
from tests.factories import Tenant
from tests.live_server import LiveServer

FAST = RetryPolicy(attempts=6, base=0.1, cap=1.0)
MakeClient = Callable[..., Any]
PROGRAM = b"MZ" + b"\x90" * 62 + b"PE\x00\x00" + b"\x00" * 200


@pytest.fixture
def settings_overrides(clamd: ClamdService) -> dict[str, object]:
    return {"scan": "clamd", "clamd_address": clamd.address}


def _file(folder: Path, name: str, content: bytes) -> Path:
    path = folder / name
    path.write_bytes(content)
    return path


def test_wait_raises_quarantined_naming_the_signature(
    server: LiveServer, tenant: Tenant, tmp_path: Path, make_client: MakeClient
) -> None:
    started = time.monotonic()
    with make_client(tenant.key, server.url, retry=FAST) as client:
        with pytest.raises(Quarantined) as caught:
            client.upload(tenant.patient_id, _file(tmp_path, "referral.pdf", EICAR), wait=True)
        assert time.monotonic() - started < 30, "no waiting for a file that will never be done"
        error = caught.value
        assert (error.signature or "").startswith("Clinifile.Test.EICAR")
        assert error.signature in str(error) and "quarantined" in str(error)
        assert (error.reason or "").startswith("The virus scanner found Clinifile.Test.EICAR")
        assert isinstance(error, ProcessingFailed) and isinstance(error, ClinifileError)
        record = client.attachment(error.record["id"])
        assert record["processing_state"] == "quarantined"
        # a file that was fine all along still returns as before
        done = client.upload(tenant.patient_id, _file(tmp_path, "a.pdf", samples.pdf()), wait=True)
        assert done["processing_completed"] is True and done["scan"]["status"] == "clean"


def test_wait_raises_quarantined_for_a_blocked_type_without_a_signature(
    server: LiveServer, tenant: Tenant, tmp_path: Path, make_client: MakeClient
) -> None:
    with make_client(tenant.key, server.url, retry=FAST) as client:
        with pytest.raises(Quarantined, match="Windows program") as caught:
            client.upload(tenant.patient_id, _file(tmp_path, "setup.pdf", PROGRAM), wait=True)
        assert caught.value.signature is None


NO_CLAMD = {"scan": "clamd", "clamd_address": "unix:/nonexistent/clamd.sock"}


@pytest.mark.parametrize("settings_overrides", [{**NO_CLAMD, "scan_max_attempts": 1}])
def test_wait_raises_processing_failed_with_the_reason(
    server: LiveServer, tenant: Tenant, tmp_path: Path, make_client: MakeClient
) -> None:
    source = _file(tmp_path, "a.pdf", samples.pdf())
    with (
        make_client(tenant.key, server.url, retry=FAST) as client,
        pytest.raises(ProcessingFailed) as caught,
    ):
        client.upload(tenant.patient_id, source, wait=True)
    assert not isinstance(caught.value, Quarantined)
    assert "not checked for malware" in (caught.value.reason or "")
    assert caught.value.record["processing_state"] == "failed"


def _cli(*args: str, key: str, base: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLINIFILE_")}
    env.update(CLINIFILE_API_KEY=key, CLINIFILE_BASE_URL=base, COLUMNS="250")
    return subprocess.run(
        [sys.executable, "-m", "clinifile.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_cli_upload_wait_prints_the_reason_and_exits_non_zero(
    server: LiveServer, tenant: Tenant, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    _file(folder, "letter.pdf", samples.pdf())
    _file(folder, "eicar.pdf", EICAR)
    patient = str(tenant.patient_id)
    shown = _cli(
        "upload", "--patient", patient, str(folder), "--wait", key=tenant.key, base=server.url
    )
    assert shown.returncode == 1, shown.stdout + shown.stderr
    [line] = [x for x in shown.stderr.splitlines() if "eicar.pdf" in x]
    assert line.startswith("quarantined: ") and "Clinifile.Test.EICAR" in line
    assert "letter.pdf" in shown.stdout and "processed" in shown.stdout

    eicar = str(folder / "eicar.pdf")
    as_json = _cli(
        "upload", "--patient", patient, eicar, "--wait", "--json", key=tenant.key, base=server.url
    )
    assert as_json.returncode == 1
    [result] = json.loads(as_json.stdout)
    assert (result["ok"], result["state"]) == (False, "quarantined")
    assert result["id"] and "Clinifile.Test.EICAR" in result["error"]
