"""Large files: a 2 GiB multipart upload with 4 parallel parts against curl posting the same
file in one request and against boto3's upload_file to the same bucket, and a 6 GiB file
(over the POST's 5 GiB) end to end with the CLI: time, the CLI's and the server's peak RSS.

    .venv/bin/python -m bench.multipart [--size-mib 2048] [--large-mib 6144] [--rounds 1]

Starts `clinifile serve` (embedded SeaweedFS, its worker inside) on a temporary data
directory with a paid account. The files are sparse (zeros after a PDF header): the figures
are the transfer's and the processing's, not the disk's.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
import httpx
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

from bench.upload_vs_curl import MEASURED_CLI, _port, paid_clinic, start_serve
from clinifile.storage.seaweed import embedded_store_of

MIB = 1024 * 1024


def _sparse(path: Path, mib: int) -> Path:
    with open(path, "wb") as f:
        f.write(b"%PDF-1.4\n")
        f.truncate(mib * MIB)
    return path


def _vmhwm_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"VmHWM:\s+(\d+)", status)
    assert found, status
    return int(found[1]) / 1024


def _cli_upload(base: str, key: str, patient: str, path: Path, *flags: str) -> tuple[float, float]:
    """Seconds and peak RSS (MiB) of `clinifile upload` for one file."""
    started = time.perf_counter()
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            MEASURED_CLI,
            "upload",
            "--patient",
            patient,
            str(path),
            "--json",
            "--api-key",
            key,
            "--base-url",
            base,
            *flags,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    seconds = time.perf_counter() - started
    return seconds, int(run.stderr.split("VMHWM ")[1].split()[0]) / 1024


def _curl_post(base: str, key: str, patient: str, path: Path) -> float:
    post = httpx.get(
        f"{base}/v1/patients/{patient}/attachment_presigned_post",
        auth=(key, ""),
        headers={"User-Agent": "bench"},
    ).json()
    form = [f"-F{k}={v}" for k, v in post["fields"].items()]
    started = time.perf_counter()
    subprocess.run(
        ["curl", "-sf", "-o", "/dev/null", *form, f"-Ffile=@{path}", post["url"]], check=True
    )
    return time.perf_counter() - started


def _boto3_upload(data: Path, path: Path, key: str) -> float:
    found = embedded_store_of(data / "seaweedfs")
    assert found is not None, "no embedded store"
    endpoint, credentials = found
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        region_name="ap-southeast-2",
        config=Config(s3={"addressing_style": "path"}),
    )
    started = time.perf_counter()
    # boto3's own defaults (8 MiB parts, 10 threads): what a user calling it would get
    s3.upload_file(str(path), "clinifile-au1", key, Config=TransferConfig())
    seconds = time.perf_counter() - started
    s3.delete_object(Bucket="clinifile-au1", Key=key)
    return seconds


def run(size_mib: int, large_mib: int, rounds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data, port = root / "data", _port()
        base = f"http://127.0.0.1:{port}"
        serve = start_serve(data, port)
        try:
            key, patient = paid_clinic(data, "M")
            medium = _sparse(root / "medium.pdf", size_mib)
            ours, curls, botos = [], [], []
            for i in range(rounds):  # alternating, so drift hits each
                ours.append(_cli_upload(base, key, patient, medium, "--parallel-parts", "4")[0])
                curls.append(_curl_post(base, key, patient, medium))
                botos.append(_boto3_upload(data, medium, f"bench-multipart/{i}.pdf"))
            medium.unlink()
            server_before = _vmhwm_mib(serve.pid)
            large = _sparse(root / "large.pdf", large_mib)
            large_seconds, large_peak = _cli_upload(
                base, key, patient, large, "--parallel-parts", "4", "--wait"
            )
            server_after = _vmhwm_mib(serve.pid)
        finally:
            serve.terminate()
            serve.wait(120)

    def mib_s(times: list[float], mib: int) -> float:
        return round(mib / statistics.median(times), 1)

    return {
        "file_mib": size_mib,
        "rounds": rounds,
        "clinifile_multipart_4_parts_mib_s": mib_s(ours, size_mib),
        "curl_one_post_mib_s": mib_s(curls, size_mib),
        "boto3_upload_file_mib_s": mib_s(botos, size_mib),
        "ratio_over_curl": round(statistics.median(curls) / statistics.median(ours), 2),
        "ratio_over_boto3": round(statistics.median(botos) / statistics.median(ours), 2),
        "large_file_mib": large_mib,
        "large_upload_wait_s": round(large_seconds, 1),
        "large_cli_peak_rss_mib": round(large_peak, 1),
        "server_peak_rss_before_mib": round(server_before, 1),
        "server_peak_rss_after_mib": round(server_after, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=2048)
    parser.add_argument("--large-mib", type=int, default=6144)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    print(json.dumps(run(args.size_mib, args.large_mib, args.rounds), indent=2))


if __name__ == "__main__":
    main()
