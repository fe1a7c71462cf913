"""`clinifile serve` and malware scanning as an operator meets them: signatures in the data
directory make serve run its own clamd (stopped with it); an infected upload is quarantined
and an operator command sees it while serve runs; scanning asked for without what it needs
stops serve with the reason; without signatures serve says scanning is off and how to turn
it on."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.clamav import EICAR, ClamdService
from tests.e2e.test_serve import CLINIFILE, UA, Served, _free_port
from tests.factories import wait_for


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    server = Served(tmp_path / "clinifile-data", _free_port())
    yield server
    if server.process and server.process.poll() is None:
        server.process.kill()
        server.process.wait()


def _clamd_processes(data_dir: Path) -> list[str]:
    # -ww: piped, ps would cut each line at 80 columns
    result = subprocess.run(
        ["ps", "-ww", "-eo", "args"], capture_output=True, text=True, check=True
    )
    config = str((data_dir / "clamd" / "clamd.conf").resolve())
    return [line for line in result.stdout.splitlines() if config in line]


def test_serve_runs_its_own_clamd_and_quarantines_an_infected_upload(
    served: Served, clamd: ClamdService
) -> None:
    signatures = served.data_dir / "clamav"
    signatures.mkdir(parents=True)
    shutil.copy(clamd.database.directory / "daily.cud", signatures)
    output = served.start()
    assert "scanning every upload with clamd at unix:" in output
    assert len(_clamd_processes(served.data_dir)) == 1
    assert httpx.get(served.base + "/readyz").status_code == 200

    key = re.search(r"KEY='([^']+)'", output)
    patient = re.search(r"patient (\d+)", output)
    assert key is not None and patient is not None
    with httpx.Client(base_url=served.base, auth=(key.group(1), ""), headers=UA) as api:
        post = api.get(f"/v1/patients/{patient.group(1)}/attachment_presigned_post").json()
        stored = httpx.post(post["url"], data=post["fields"], files={"file": ("x.pdf", EICAR)})
        assert stored.status_code == 201
        url = post["url"] + post["fields"]["key"].replace("${filename}", "x.pdf")
        created = api.post(
            "/v1/patient_attachments", json={"patient_id": patient.group(1), "upload_url": url}
        ).json()
        state = lambda: api.get(created["links"]["self"]).json()["processing_state"]  # noqa: E731
        wait_for(lambda: state() == "quarantined", timeout=60)
    listed = served.cli("quarantine", "ls", "--json")
    assert listed.returncode == 0, listed.stderr
    assert created["id"] in listed.stdout and "Clinifile.Test.EICAR" in listed.stdout
    # an operator's rescan finds serve's own clamd through the data directory (nothing to
    # do: no file is stored but the quarantined one)
    rescanned = served.cli("rescan")
    assert rescanned.returncode == 0, rescanned.stderr
    assert f"rescanned 0 files with {clamd.version()}" in rescanned.stdout

    assert served.stop() == 0
    assert _clamd_processes(served.data_dir) == [], "Ctrl-C must stop clamd too"


def test_serve_without_signatures_says_scanning_is_off_and_how_to_turn_it_on(
    served: Served, tmp_path: Path
) -> None:
    empty = tmp_path / "no-signatures"
    empty.mkdir()
    output = served.start(CLINIFILE_CLAMAV_DATABASE_DIR=str(empty))
    assert "malware scanning is off" in output and "freshclam" in output
    assert _clamd_processes(served.data_dir) == []
    assert served.stop() == 0


def test_scanning_asked_for_without_signatures_stops_serve_with_the_reason(
    served: Served, tmp_path: Path
) -> None:
    empty = tmp_path / "no-signatures"
    empty.mkdir()
    run = subprocess.run(
        [*CLINIFILE, "serve", "--data-dir", str(served.data_dir), "--port", str(served.port)],
        env={
            "PATH": "/usr/bin:/bin:/usr/sbin",
            "CLINIFILE_SCAN": "clamd",
            "CLINIFILE_CLAMAV_DATABASE_DIR": str(empty),
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 2, run.stdout + run.stderr
    assert "CLINIFILE_SCAN=clamd" in run.stderr and str(empty) in run.stderr
