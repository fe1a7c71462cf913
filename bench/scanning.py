"""Malware scanning's cost: processing with clamd beside processing without it, beside clamd
alone, and the worker's memory on a large file with scanning on.

    .venv/bin/python -m bench.scanning [--rounds 3] [--backlog 200] [--seconds 10]
        [--bodies 100000] [--hashes 1000000] [--file-mib 1024] [--database-url ...]

Starts a private clamd (clinifile.scanning.runner) on a signature database made here with
sigtool, since ClamAV's own cannot be downloaded on these machines: EICAR's hash and body
signatures plus random ones (by default 100,000 body and 1,000,000 hash signatures), so
that clamd's matcher and hash tables have a size of ClamAV's order (its real database has
millions of hash signatures and more, costlier logical and bytecode ones: real scans cost
more than these).

Each round, alternating: bench.processing with scanning off, then on (a backlog of 10 KB
uploads drained, then 20 arrivals a second), and clamd alone: the same 10 KB file sent
with INSTREAM from one client, one file after another (the most the worker could get from
clamd on one connection at a time).
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import processing, worker_memory
from bench._stats import summary
from clinifile.scanning.clamd import Clamd
from clinifile.scanning.runner import EmbeddedClamd, find_clamd_binary

# the test file, backwards (see tests/clamav.py): the signatures' one real member
EICAR = "*H+H$!ELIF-TSET-SURIVITNA-DRADNATS-RACIE$}7)CC7)^P(45XZP\\4[PA@%P!O5X"[::-1].encode()


def missing() -> str | None:
    """What is not installed for this benchmark, or None."""
    if find_clamd_binary() is None:
        return "clamd (apt-get install clamav-daemon)"
    if shutil.which("sigtool") is None:
        return "sigtool (apt-get install clamav)"
    return None


def build_signatures(directory: Path, bodies: int, hashes: int) -> Path:
    """daily.cud in directory: EICAR's signatures and random ones."""
    import hashlib

    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as build:
        work = Path(build)
        with open(work / "daily.ndb", "w") as ndb:
            ndb.write(f"Bench.EICAR-Body:0:*:{EICAR.hex()}\n")
            for i in range(bodies):
                ndb.write(f"Bench.Body-{i}:0:*:{secrets.token_hex(12)}\n")
        with open(work / "daily.hsb", "w") as hsb:
            hsb.write(f"{hashlib.sha256(EICAR).hexdigest()}:{len(EICAR)}:Bench.EICAR-Hash\n")
            for i in range(hashes):
                hsb.write(f"{secrets.token_hex(32)}:{1000 + i}:Bench.Hash-{i}\n")
        (work / "COPYING").write_text("clinifile's benchmark signatures (not ClamAV's)\n")
        build_command = ["sigtool", "--build=daily.cud", "--unsigned", "--no-cdiff"]
        subprocess.run(
            [*build_command, "--cvd-version=1", f"--datadir={work}"],
            cwd=work,
            input="clinifile bench\n",
            capture_output=True,
            text=True,
            check=True,
        )
        shutil.move(work / "daily.cud", directory / "daily.cud")
    return directory


def clamd_alone(address: str, payload: bytes, files: int) -> dict[str, float]:
    """INSTREAM of payload from one client, one file after another."""
    client = Clamd(address)
    durations = []
    for _ in range(files):
        started = time.perf_counter()
        client.version()  # as the worker asks before each scan
        with client.instream() as stream:
            stream.send(payload)
            assert stream.verdict().signature is None
        durations.append(time.perf_counter() - started)
    return {
        "files_per_s": round(len(durations) / sum(durations), 1),
        "per_file_ms": round(statistics.median(durations) * 1000, 2),
    }


def _peak_rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+)", status)
    return round(int(match[1]) / 1024, 1) if match else 0.0


def run(
    database_url: str | None,
    *,
    rounds: int,
    backlog: int,
    rate: float,
    seconds: float,
    bodies: int,
    hashes: int,
    file_mib: int,
    memory_rounds: int,
) -> dict[str, Any]:
    absent = missing()
    if absent:
        return {"skipped": f"not installed: {absent}"}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        signatures = build_signatures(root / "signatures", bodies, hashes)
        clamd = EmbeddedClamd(root / "clamd", signatures)
        started = time.perf_counter()
        clamd.start()
        load_seconds = round(time.perf_counter() - started, 2)
        try:
            on = {"scan": "clamd", "clamd_address": clamd.address}
            off: list[dict[str, Any]] = []
            scanned: list[dict[str, Any]] = []
            alone: list[dict[str, float]] = []
            for _ in range(rounds):
                for settings, into in (({"scan": "off"}, off), (on, scanned)):
                    measured = processing.run(
                        database_url, backlog=backlog, rate=rate, seconds=seconds, settings=settings
                    )
                    into.append(measured)
                alone.append(clamd_alone(clamd.address, processing.PAYLOAD, max(50, backlog)))
            memory = [worker_memory.run(file_mib, settings=on) for _ in range(memory_rounds)]
            assert clamd.process is not None
            clamd_rss = _peak_rss_mib(clamd.process.pid)
        finally:
            clamd.stop()
    return {
        "database": off[0]["database"],
        "signatures": {"bodies": bodies + 1, "hashes": hashes + 1, "load_seconds": load_seconds},
        "off": _figures(off),
        "on": _figures(scanned),
        "clamd_alone_per_s": summary([a["files_per_s"] for a in alone]),
        "clamd_alone_ms": summary([a["per_file_ms"] for a in alone]),
        # None: not measured (--memory-rounds 0)
        "memory": {
            "file_mib": file_mib,
            "idle_mib": summary([m["baseline_peak_rss_mib"] for m in memory]),
            "peak_mib": summary([m["worker_peak_rss_mib"] for m in memory]),
            "seconds": summary([m["worker_seconds"] for m in memory]),
            "clamd_peak_mib": clamd_rss,
        }
        if memory
        else None,
    }


def _figures(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "latency_p50_ms": summary([r["results"][0]["latency_p50_ms"] for r in rounds]),
        "latency_p95_ms": summary([r["results"][0]["latency_p95_ms"] for r in rounds]),
        "drain_per_s": summary([r["results"][0]["drain_attachments_per_s"] for r in rounds]),
        "store_ops_per_s": summary([r["store_ops_baseline"]["jobs_per_s"] for r in rounds]),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backlog", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--bodies", type=int, default=100_000)
    parser.add_argument("--hashes", type=int, default=1_000_000)
    parser.add_argument("--file-mib", type=int, default=1024)
    parser.add_argument("--memory-rounds", type=int, default=2)
    args = parser.parse_args()
    result = run(
        args.database_url,
        rounds=args.rounds,
        backlog=args.backlog,
        rate=args.rate,
        seconds=args.seconds,
        bodies=args.bodies,
        hashes=args.hashes,
        file_mib=args.file_mib,
        memory_rounds=args.memory_rounds,
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
