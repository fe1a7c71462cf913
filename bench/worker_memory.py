"""Peak RSS of a worker process that processes one large file (default 1 GiB).

    .venv/bin/python -m bench.worker_memory [--size-mib 1024]

Starts a real SeaweedFS, uploads the file with a presigned POST (streamed from disk),
registers it, then runs the worker in a child process and reports that child's peak RSS
next to the peak RSS of an identical child that only starts up (the baseline).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench._support import runtime_on
from clinifile.config import Settings
from clinifile.services import accounts
from clinifile.storage.seaweed import EmbeddedSeaweed

CHILD = """
import json, os, re, sys
from bench._support import runtime_on
from clinifile.config import Settings
from clinifile.runtime import build_runtime
from clinifile.worker.runner import Worker
settings = Settings.model_validate_json(os.environ["BENCH_SETTINGS"])
runtime = build_runtime(settings)
done = Worker(runtime).run_until_idle() if sys.argv[1] == "work" else 0
# VmHWM, not ru_maxrss: ru_maxrss keeps the parent's high-water mark across exec
peak = int(re.search("VmHWM:[ \\t]+([0-9]+)", open("/proc/self/status").read())[1])
print(json.dumps({"processed": done, "peak_rss_kib": peak}))
"""


def _child(mode: str, settings: Settings) -> dict[str, int]:
    env = {**os.environ, "BENCH_SETTINGS": settings.model_dump_json()}
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode], env=env, capture_output=True, text=True, check=True
    )
    result: dict[str, int] = json.loads(out.stdout.strip().splitlines()[-1])
    result["seconds_x1000"] = int((time.perf_counter() - started) * 1000)
    return result


def run(size_mib: int, settings: dict[str, Any] | None = None) -> dict[str, float]:
    """settings: more Settings for the worker (bench.scanning's clamd)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        weed = EmbeddedSeaweed(root / "weed")
        weed.start()
        try:
            runtime = runtime_on(weed, root / "data", **(settings or {}))
            settings = runtime.settings
            account_id = accounts.create_account(runtime, name="B", region="au1", plan="paid")
            key = accounts.create_api_key(runtime, account_id)
            patient_id = accounts.create_patient(
                runtime, account_id=account_id, first_name="B", last_name="M"
            )
            big = root / "big.bin"
            with open(big, "wb") as f:
                f.write(b"%PDF-1.4\n")
                f.truncate(size_mib * 1024 * 1024)
            from fastapi.testclient import TestClient

            from clinifile.api.app import create_app

            with TestClient(create_app(runtime), headers={"User-Agent": "bench"}) as api:
                post = api.get(
                    f"/v1/patients/{patient_id}/attachment_presigned_post", auth=(key, "")
                ).json()
                started = time.perf_counter()
                with open(big, "rb") as f:
                    stored = httpx.post(
                        post["url"],
                        data=post["fields"],
                        files={"file": ("big.pdf", f)},
                        timeout=600,
                    )
                upload_s = time.perf_counter() - started
                assert stored.status_code == 201, stored.text
                url = post["url"] + post["fields"]["key"].replace("${filename}", "big.pdf")
                created = api.post(
                    "/v1/patient_attachments",
                    json={"patient_id": str(patient_id), "upload_url": url},
                    auth=(key, ""),
                )
                assert created.status_code == 201, created.text
            baseline = _child("idle", settings)
            worked = _child("work", settings)
            return {
                "file_mib": size_mib,
                "upload_seconds": round(upload_s, 2),
                "baseline_peak_rss_mib": round(baseline["peak_rss_kib"] / 1024, 1),
                "worker_peak_rss_mib": round(worked["peak_rss_kib"] / 1024, 1),
                "worker_seconds": worked["seconds_x1000"] / 1000,
                "processed": worked["processed"],
            }
        finally:
            weed.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    print(json.dumps(run(parser.parse_args().size_mib), indent=2))


if __name__ == "__main__":
    main()
