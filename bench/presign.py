"""Presign requests/s and latency: clinifile's endpoint (auth, patient lookup, quota, temp id)
against the bare FastAPI + boto3 baseline (bench/baseline_presign.py), both served by one
uvicorn process, loaded in turn by wrk from a separate process at the same concurrency.

    python -m bench.presign [--seconds 10] [--rounds 3] [--connections 16]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench._stats import summary

PYTHON = sys.executable


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited early")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url}: not ready within {timeout}s")


def start_clinifile(
    data_dir: Path, processes: int = 1
) -> tuple[subprocess.Popen[bytes], str, str, str]:
    """`clinifile serve` on the embedded default (no worker, rate limit out of the way),
    its API in `processes` processes; returns the process, base URL, the printed demo key
    and patient id."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLINIFILE_")}
    env["CLINIFILE_RATE_LIMIT_PER_MINUTE"] = str(10**9)
    log = open(data_dir.parent / "serve.log", "wb")  # noqa: SIM115 - kept open while it runs
    process = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "clinifile.cli",
            "serve",
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
            "--no-worker",
            "--api-processes",
            str(processes),
            "--log-level",
            "warning",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    _wait_ready(base + "/healthz", process)
    text = (data_dir.parent / "serve.log").read_text()
    key = re.search(r"KEY='([^']+)'", text)
    patient = re.search(r"patient (\d+)\. API key", text)
    assert key and patient, text
    return process, base, key.group(1), patient.group(1)


def start_baseline(processes: int = 1) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    process = subprocess.Popen(
        [PYTHON, "-m", "bench.baseline_presign", "--port", str(port), "--workers", str(processes)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    _wait_ready(base + "/docs", process)
    return process, base


def wrk(url: str, seconds: int, connections: int, headers: dict[str, str]) -> dict[str, float]:
    """One wrk run on one thread; requests/s and latency percentiles in ms."""
    args = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non_2xx:
        raise RuntimeError(f"{url}: {non_2xx.group(1)} failed requests\n{out}")

    def ms(label: str) -> float:
        found = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)\b", out)
        assert found, out
        value, unit = float(found.group(1)), found.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert rps, out
    return {
        "rps": float(rps.group(1)),
        "p50_ms": ms("50"),
        "p75_ms": ms("75"),
        "p90_ms": ms("90"),
        "p99_ms": ms("99"),
    }


def server_stack() -> str:
    """The event loop and HTTP parser uvicorn picks here ("auto"), with their versions."""
    from importlib.metadata import PackageNotFoundError, version

    parts = []
    for package, fallback in (("uvloop", "asyncio"), ("httptools", "h11")):
        try:
            parts.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            parts.append(fallback)
    return f"uvicorn {version('uvicorn')}, " + ", ".join(parts)


def run(seconds: int, rounds: int, connections: int, processes: int = 1) -> dict[str, Any]:
    """Both servers on uvicorn's fast stack (uvloop, httptools: uvicorn takes them when
    installed, as clinifile's dependencies install them), each in `processes` processes."""
    if shutil.which("wrk") is None:
        raise SystemExit("the presign benchmark needs wrk: apt-get install wrk")
    with tempfile.TemporaryDirectory(prefix="clinifile-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        server, base, key, patient = start_clinifile(data_dir, processes)
        baseline, baseline_base = start_baseline(processes)
        path = f"/v1/patients/{patient}/attachment_presigned_post"
        auth = {
            "Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode(),
            "User-Agent": "bench (bench@example.com)",
        }
        try:
            assert httpx.get(base + path, headers=auth).status_code == 200
            assert httpx.get(baseline_base + path).status_code == 200
            wrk(base + path, 2, connections, auth)  # warm-up
            wrk(baseline_base + path, 2, connections, {})
            results: dict[str, list[dict[str, float]]] = {"clinifile": [], "baseline": []}
            for _ in range(rounds):  # alternate, so drift on a shared box hits both
                results["baseline"].append(wrk(baseline_base + path, seconds, connections, {}))
                results["clinifile"].append(wrk(base + path, seconds, connections, auth))
        finally:
            for process in (server, baseline):
                process.send_signal(signal.SIGINT)
                process.wait(60)
    figures = {
        name: {metric: summary([r[metric] for r in runs]) for metric in runs[0]}
        for name, runs in results.items()
    }
    ratio = figures["clinifile"]["rps"]["median"] / figures["baseline"]["rps"]["median"]
    return {
        "processes": processes,
        "server_stack": server_stack(),
        "seconds": seconds,
        "rounds": rounds,
        "connections": connections,
        "figures": figures,
        "ratio_rps": round(ratio, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--processes", type=int, default=1)
    args = parser.parse_args()
    result = run(args.seconds, args.rounds, args.connections, args.processes)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
