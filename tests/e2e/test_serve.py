"""`clinifile serve` as a user runs it: a fresh data directory, the printed key and curl
example, operator commands while it runs, Ctrl-C, and a restart that keeps everything."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests import log_scan
from tests.factories import wait_for

CLINIFILE = [sys.executable, "-m", "clinifile.cli"]
UA = {"User-Agent": "e2e (e2e@example.com)"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Served:
    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.log = data_dir.parent / f"serve-{port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, *flags: str, default_data_dir: bool = False, **settings: str) -> str:
        """flags: more of serve's options; default_data_dir: as the README runs it, from the
        folder, ./clinifile-data; settings: CLINIFILE_* variables (none of the test run's
        own are passed on)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLINIFILE_")}
        env.update(settings)
        where = [] if default_data_dir else ["--data-dir", str(self.data_dir)]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [
                    *CLINIFILE,
                    "serve",
                    *where,
                    "--port",
                    str(self.port),
                    "--log-level",
                    "debug",
                    *flags,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.data_dir.parent,
                # its own process group: a failed test's clean-up stops its children too
                start_new_session=True,
            )
        wait_for(self._ready, timeout=60, interval=0.1)
        return self.output()

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"serve exited early:\n{self.output()}")
        try:
            return httpx.get(self.base + "/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*CLINIFILE, *args, "--data-dir", str(self.data_dir)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)  # what Ctrl-C sends
        return self.process.wait(timeout=60)


def _weed_processes(data_dir: Path) -> list[str]:
    result = subprocess.run(
        ["ps", "-ww", "-eo", "args"], capture_output=True, text=True, check=True
    )
    return [line for line in result.stdout.splitlines() if f"-dir={data_dir}" in line]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    server = Served(tmp_path / "clinifile-data", _free_port())
    yield server
    if server.process and server.process.poll() is None:
        # the whole group: SeaweedFS, clamd and API processes must not outlive the test
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait()
    if server.log.exists():
        log_scan.keep_log_records(server.output(), f"serve-{server.port}")


def _run_the_example(output: str, workdir: Path) -> None:
    """Runs the copy-paste example serve printed, as a user pastes it into bash."""
    snippet = output[output.index("KEY='") : output.index("echo 'downloaded the same bytes'")]
    snippet += "echo 'downloaded the same bytes'\n"
    workdir.mkdir()
    run = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", snippet],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "<PostResponse>" in run.stdout
    assert '"processing_completed":false' in run.stdout
    assert "downloaded the same bytes" in run.stdout


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs the curl binary")
def test_serve_prints_a_key_and_a_curl_example_that_works(served: Served, tmp_path: Path) -> None:
    output = served.start(default_data_dir=True)
    _run_the_example(output, tmp_path / "curl")
    key = re.search(r"KEY='([^']+)'", output)
    assert key is not None
    assert key.group(1) not in (served.data_dir / "clinifile.db").read_bytes().decode("latin-1"), (
        "the API key must be stored only as a hash"
    )


def test_operator_commands_work_while_serving_and_a_restart_keeps_everything(
    served: Served,
) -> None:
    served.start()
    account = served.cli(
        "accounts", "create", "--name", "Clinic", "--region", "uk1", "--plan", "trial"
    )
    assert account.returncode == 0, account.stderr
    assert account.stdout.strip().isdigit()
    key = served.cli("keys", "create", "--account", account.stdout.strip())
    assert key.returncode == 0, key.stderr
    assert key.stdout.strip().endswith("-uk1") and len(key.stdout.split()) == 1
    patient = served.cli(
        "patients",
        "create",
        "--account",
        account.stdout.strip(),
        "--first-name",
        "Grace",
        "--last-name",
        "Hopper",
    )
    assert patient.returncode == 0, patient.stderr
    patient_id = patient.stdout.strip()
    auth = (key.stdout.strip(), "")

    with httpx.Client(base_url=served.base, auth=auth, headers=UA, timeout=30) as api:
        post = api.get(f"/v1/patients/{patient_id}/attachment_presigned_post").json()
        content = b"%PDF-1.4 kept across restarts"
        stored = httpx.post(post["url"], data=post["fields"], files={"file": ("k.pdf", content)})
        assert stored.status_code == 201
        url = post["url"] + post["fields"]["key"].replace("${filename}", "k.pdf")
        created = api.post(
            "/v1/patient_attachments", json={"patient_id": patient_id, "upload_url": url}
        )
        assert created.status_code == 201, created.text
        attachment = created.json()["links"]["self"]
        wait_for(lambda: api.get(attachment).json()["processing_completed"], timeout=30)

    assert served.stop() == 0
    assert _weed_processes(served.data_dir) == [], "Ctrl-C must stop SeaweedFS too"

    served.start()
    with httpx.Client(auth=auth, headers=UA, timeout=30) as api:
        record = api.get(attachment).json()
        assert record["processing_completed"] is True
        download = api.get(attachment + "/content", follow_redirects=True)
        assert download.content == content
    assert served.stop() == 0


def test_bad_cli_input_exits_nonzero_with_a_message(served: Served) -> None:
    result = served.cli("accounts", "create", "--name", "X", "--region", "mars1")
    assert result.returncode == 2
    assert "mars1" in result.stderr and "au1" in result.stderr
    result = served.cli("keys", "create", "--account", "424242")
    assert result.returncode == 2
    assert "424242" in result.stderr


def _children(pid: int) -> list[str]:
    result = subprocess.run(
        ["ps", "-ww", "--ppid", str(pid), "-o", "args="],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.splitlines()


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs the curl binary")
def test_serve_with_two_api_processes_runs_the_example_and_stops_on_ctrl_c(
    served: Served, tmp_path: Path
) -> None:
    output = served.start("--api-processes", "2")
    assert served.process is not None
    api_processes = [c for c in _children(served.process.pid) if "spawn_main" in c]
    assert len(api_processes) == 2, _children(served.process.pid)

    _run_the_example(output, tmp_path / "curl")

    assert served.stop() == 0
    assert _children(served.process.pid) == []
    assert _weed_processes(served.data_dir) == [], "Ctrl-C must stop SeaweedFS too"
