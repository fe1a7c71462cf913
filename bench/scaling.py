"""Processing as it scales: 1, 2 and 4 workers on SQLite and on PostgreSQL, each beside as
many plain boto3 clients making the worker's own store operations (bench.processing), and
the report's section for it."""

from __future__ import annotations

import sys
from typing import Any

from bench import processing
from bench._stats import summary

WORKERS = (1, 2, 4)
RATIO_GOAL = 0.7
P95_GOAL_MS = 100


def measure(
    database_url: str | None,
    *,
    rounds: int,
    backlog: int,
    seconds: float,
    workers: tuple[int, ...] = WORKERS,
) -> dict[str, Any]:
    """Rounds of bench.processing for each database (SQLite; PostgreSQL when a URL is
    given), summarised per worker count."""
    figures: dict[str, Any] = {}
    for url in (None, database_url) if database_url else (None,):
        runs = []
        for _ in range(rounds):
            runs.append(
                processing.run(url, backlog=backlog, rate=20, seconds=seconds, workers=workers)
            )
            print(
                f"  processing on {runs[-1]['database']}: round {len(runs)} done", file=sys.stderr
            )
        by_workers = {}
        for i, n in enumerate(workers):
            results = [r["results"][i] for r in runs]
            by_workers[str(n)] = {
                "drain_per_s": summary([r["drain_attachments_per_s"] for r in results]),
                "baseline_per_s": summary([r["store_ops_baseline"]["jobs_per_s"] for r in results]),
                "ratio": summary([r["drain_ratio"] for r in results]),
                "latency_p50_ms": summary([r["latency_p50_ms"] for r in results]),
                "latency_p95_ms": summary([r["latency_p95_ms"] for r in results]),
                # the distribution of the round with the median p95
                "latency_percentiles_ms": sorted(results, key=lambda r: r["latency_p95_ms"])[
                    len(results) // 2
                ]["latency_percentiles_ms"],
            }
        figures[runs[0]["database"]] = by_workers
    return {"backlog": backlog, "seconds": seconds, "rounds": rounds, "databases": figures}


def _cell(figures: dict[str, float], unit: str = "") -> str:
    return f"{figures['median']}{unit} ({figures['min']} to {figures['max']})"


def section(proc: dict[str, Any], chart: str | None) -> list[str]:
    lines = [
        "## Processing: workers that add up, against the store's own operations",
        "",
        "10 KB files on the embedded SeaweedFS, previews off (they are their own step after "
        "a file is completed; their section has their figures). SQLite: N worker threads of "
        "the process that registers uploads, as `clinifile serve` runs them; PostgreSQL: N "
        "`clinifile worker` "
        "processes woken by LISTEN/NOTIFY, timed from when each is connected (their start-up "
        f"is not counted). Drain: a backlog of {proc['backlog']} processed. Baseline, in the "
        "same run: the store operations the worker makes for a job (GET the whole upload, "
        "COPY it to its permanent key, DELETE the upload) made by N plain boto3 clients in "
        "their own processes, job after job. Latency: uploads registered at 20 a second for "
        f"{proc['seconds']} s, time from registration to `processing_completed` (seen in the "
        f"database, polled every 10 ms). Medians of {proc['rounds']} rounds (min to max).",
        "",
        "| database | workers | drained/s | baseline jobs/s | ratio | p50 | p95 |",
        "|---|---|---|---|---|---|---|",
    ]
    verdicts = []
    for database, by_workers in proc["databases"].items():
        for n, f in by_workers.items():
            lines.append(
                f"| {database} | {n} | {_cell(f['drain_per_s'])} | {_cell(f['baseline_per_s'])} "
                f"| **{f['ratio']['median']}** | {f['latency_p50_ms']['median']} ms "
                f"| {f['latency_p95_ms']['median']} ms |"
            )
            verdicts.append(f["ratio"]["median"] >= RATIO_GOAL)
        one = by_workers[min(by_workers, key=int)]["latency_p95_ms"]["median"]
        verdicts.append(one < P95_GOAL_MS)
    lines += [
        "",
        f"Goals: drain / baseline ≥ {RATIO_GOAL} for every worker count, and p95 < "
        f"{P95_GOAL_MS} ms at 20 arrivals/s with one worker, on both databases: "
        f"{'met' if all(verdicts) else '**not met** (see the rows above)'}.",
    ]
    if chart:
        lines += ["", f"![Drain rate against workers, beside the store's own rate]({chart})"]
    return lines
