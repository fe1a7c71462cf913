"""The CI test of issue 17: a 200 MiB file goes through `clinifile upload` in 5 MiB parts,
the process is killed at about half, and `clinifile upload --resume` goes on from the parts
the store holds: the file registers, processes, and downloads with the same SHA-256. On
SQLite and PostgreSQL, a real server, the real SeaweedFS, the CLI as a user runs it."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from clinifile.client import Client
from clinifile.db.models import MultipartUpload
from tests.conftest import database_url
from tests.factories import Tenant, wait_for
from tests.live_server import LiveServer

__all__ = ["database_url"]  # this module's tests run on SQLite and PostgreSQL

MiB = 1024 * 1024
SIZE = 200 * MiB
PARTS = 40


def _video(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("wb") as out:
        for _ in range(SIZE // MiB):
            chunk = os.urandom(MiB)
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def _cli(tenant: Tenant, server: LiveServer, cache: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLINIFILE_")}
    env.update(
        CLINIFILE_API_KEY=tenant.key,
        CLINIFILE_BASE_URL=server.url,
        CLINIFILE_CLIENT_CACHE_DIR=str(cache),
    )
    command = [sys.executable, "-m", "clinifile.cli", "upload", *args]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def _held(server: LiveServer, tenant: Tenant, upload_id: str) -> int:
    answer = httpx.get(
        f"{server.url}/v1/attachment_multipart_uploads/{upload_id}",
        auth=(tenant.key, ""),
        headers={"User-Agent": "clinifile tests"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return len(answer.json()["uploaded"])


def test_a_killed_cli_upload_resumes_and_the_file_arrives_whole(
    server: LiveServer, tenant: Tenant, tmp_path: Path
) -> None:
    video = tmp_path / "gait-analysis.mp4"
    digest = _video(video)
    cache = tmp_path / "cache"
    args = (str(video), "--patient", str(tenant.patient_id))

    first = _cli(tenant, server, cache, *args, "--parallel-parts", "2")
    state = wait_for(lambda: next(iter(cache.glob("uploads/*.json")), None), timeout=60)
    upload = wait_for(lambda: json.loads(state.read_text() or "{}").get("id"), timeout=10)
    assert json.loads(state.read_text())["part_size"] == 5 * MiB
    wait_for(lambda: _held(server, tenant, upload) >= PARTS // 2, timeout=300, interval=0.02)
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=30)
    held = _held(server, tenant, upload)
    assert PARTS // 2 <= held < PARTS, f"killed after {held} of {PARTS} parts"
    with Client(tenant.key, server.url) as client:
        assert list(client.attachments(tenant.patient_id)) == []  # nothing registered

    started = time.monotonic()
    second = _cli(tenant, server, cache, *args, "--resume", "--wait", "--json")
    out, err = second.communicate(timeout=600)
    assert second.returncode == 0, err
    report = json.loads(out)
    assert [r["ok"] for r in report] == [True], report
    record = report[0]["record"]
    assert record["processing_completed"] is True and record["size"] == SIZE
    with server.runtime.sessions() as session:
        uploads = session.query(MultipartUpload).filter_by(account_id=tenant.account_id).all()
    # the same upload went on (no second one was opened) and was completed
    assert [(str(u.id), u.state) for u in uploads] == [(upload, "completed")]
    assert list(cache.glob("uploads/*.json")) == []

    downloaded = hashlib.sha256()
    with Client(tenant.key, server.url) as client:
        client.download(record["id"], tmp_path / "back.mp4")
    with (tmp_path / "back.mp4").open("rb") as back:
        while chunk := back.read(MiB):
            downloaded.update(chunk)
    assert downloaded.hexdigest() == digest
    print(f"resumed from {held}/{PARTS} parts in {time.monotonic() - started:.1f}s")
