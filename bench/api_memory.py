"""The API process's memory under a long run of requests: RSS after a warm-up, and after
100,000 presign and list requests in all (wrk, from another process).

    python -m bench.api_memory [--requests 100000]
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import signal
import subprocess
import tempfile
from pathlib import Path

from bench.presign import start_clinifile


def _rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"VmRSS:\s+(\d+) kB", status)
    assert found, status
    return round(int(found.group(1)) / 1024, 1)


def _load(url: str, headers: dict[str, str], seconds: int) -> int:
    args = ["wrk", "-t1", "-c8", f"-d{seconds}s"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    done = re.search(r"(\d+) requests in", out)
    assert done, out
    return int(done.group(1))


def run(requests: int, warmup: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="clinifile-bench-") as tmp:
        server, base, key, patient = start_clinifile(Path(tmp) / "data")
        headers = {
            "Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode(),
            "User-Agent": "bench (bench@example.com)",
        }
        urls = [
            f"{base}/v1/patients/{patient}/attachment_presigned_post",
            f"{base}/v1/patients/{patient}/patient_attachments?per_page=50",
        ]
        try:
            done = 0
            while done < warmup:
                done += sum(_load(url, headers, 2) for url in urls)
            after_warmup = _rss_mib(server.pid)
            while done < requests:
                done += sum(_load(url, headers, 5) for url in urls)
            at_end = _rss_mib(server.pid)
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(60)
    return {
        "requests": done,
        "rss_after_warmup_mib": after_warmup,
        "rss_at_end_mib": at_end,
        "growth_percent": round((at_end - after_warmup) / after_warmup * 100, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=100_000)
    args = parser.parse_args()
    print(json.dumps(run(args.requests, warmup=args.requests // 10), indent=2))


if __name__ == "__main__":
    main()
