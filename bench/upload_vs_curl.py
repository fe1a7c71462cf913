"""`clinifile upload` against curl posting the same file to the same kind of presigned post.

    .venv/bin/python -m bench.upload_vs_curl [--size-mib 500] [--rounds 3]

Starts `clinifile serve` on a temporary data directory, makes a paid account, then for each
round times `clinifile upload` (the whole flow: presign, POST, register) and curl doing
only the POST of a fresh presigned post, and reads the CLI's peak RSS (VmHWM).
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

CLI = [sys.executable, "-m", "clinifile.cli"]
MEASURED_CLI = (
    "import re, sys\n"
    "from clinifile.cli.main import app\n"
    "try:\n"
    "    app(sys.argv[1:])\n"
    "except SystemExit as stop:\n"
    "    code = stop.code\n"
    "status = open('/proc/self/status').read()\n"
    "print('VMHWM', re.search('VmHWM:[ \\t]+([0-9]+)', status)[1], file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_serve(data: Path, port: int) -> subprocess.Popen[bytes]:
    """`clinifile serve` on data (embedded SeaweedFS, its worker inside), once /healthz
    answers; terminated if it does not within a minute."""
    serve = subprocess.Popen(
        [*CLI, "serve", "--data-dir", str(data), "--port", str(port), "--log-level", "warning"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return serve
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                serve.terminate()
                raise
            time.sleep(0.2)


def paid_clinic(data: Path, name: str) -> tuple[str, str]:
    """A paid account with one patient, made with the operator commands: its key and the
    patient's id."""

    def cli(*a: str) -> str:
        out = subprocess.run(
            [*CLI, *a, "--data-dir", str(data)], capture_output=True, text=True, check=True
        )
        return out.stdout.strip()

    account = cli("accounts", "create", "--name", "Bench", "--plan", "paid")
    key = cli("keys", "create", "--account", account)
    patient = cli(
        "patients", "create", "--account", account, "--first-name", "B", "--last-name", name
    )
    return key, patient


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("curl") is None:
        raise SystemExit("needs curl")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data, port = root / "data", _port()
        base = f"http://127.0.0.1:{port}"
        serve = start_serve(data, port)
        try:
            key, patient = paid_clinic(data, "U")
            big = root / "big.pdf"
            with open(big, "wb") as f:
                f.write(b"%PDF-1.4\n")
                f.truncate(args.size_mib * 1024 * 1024)
            ours, theirs, peaks = [], [], []
            for _ in range(args.rounds):
                started = time.perf_counter()
                run = subprocess.run(
                    [
                        sys.executable,
                        "-c",
                        MEASURED_CLI,
                        "upload",
                        "--patient",
                        patient,
                        str(big),
                        "--json",
                        "--api-key",
                        key,
                        "--base-url",
                        base,
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                ours.append(time.perf_counter() - started)
                peaks.append(int(run.stderr.split("VMHWM ")[1].split()[0]) / 1024)
                post = httpx.get(
                    f"{base}/v1/patients/{patient}/attachment_presigned_post",
                    auth=(key, ""),
                    headers={"User-Agent": "bench"},
                ).json()
                form = [f"-F{k}={v}" for k, v in post["fields"].items()]
                started = time.perf_counter()
                subprocess.run(
                    ["curl", "-sf", "-o", "/dev/null", *form, f"-Ffile=@{big}", post["url"]],
                    check=True,
                )
                theirs.append(time.perf_counter() - started)
            mib = args.size_mib

            def figures(times: list[float]) -> dict[str, float]:
                return {
                    "min_s": round(min(times), 2),
                    "median_s": round(statistics.median(times), 2),
                    "max_s": round(max(times), 2),
                    "median_mib_per_s": round(mib / statistics.median(times), 1),
                }

            print(
                json.dumps(
                    {
                        "file_mib": mib,
                        "clinifile_upload": figures(ours),
                        "curl_post_only": figures(theirs),
                        "ratio_curl_time_over_clinifile_time": round(
                            statistics.median(theirs) / statistics.median(ours), 2
                        ),
                        "clinifile_upload_peak_rss_mib": round(max(peaks), 1),
                    },
                    indent=2,
                )
            )
        finally:
            serve.terminate()
            serve.wait(60)


if __name__ == "__main__":
    main()
