"""The report's charts, drawn with matplotlib next to the report and regenerated with its
figures: drain rate against worker count beside the store's own rate, and the latency
distributions of presign and processing."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    return plt


def drain(proc: dict[str, Any], path: Path) -> Path:
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(7, 4))
    for database, by_workers in proc["databases"].items():
        workers = [int(n) for n in by_workers]
        line = axes.plot(
            workers,
            [f["drain_per_s"]["median"] for f in by_workers.values()],
            marker="o",
            label=f"clinifile, {database}",
        )
        axes.plot(
            workers,
            [f["baseline_per_s"]["median"] for f in by_workers.values()],
            marker="x",
            linestyle="--",
            color=line[0].get_color(),
            label=f"boto3 clients alone ({database} run)",
        )
        axes.set_xticks(workers)
    axes.set_xlabel("workers (SQLite: threads; PostgreSQL: processes) / boto3 clients")
    axes.set_ylabel("attachments (jobs) a second")
    axes.set_title("Drain rate against workers, beside the store's own rate")
    axes.set_ylim(bottom=0)
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def latencies(presign_runs: list[dict[str, Any]], proc: dict[str, Any], path: Path) -> Path:
    plt = _pyplot()
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    quantiles = ("p50_ms", "p75_ms", "p90_ms", "p99_ms")
    for run in presign_runs:
        for name, style in (("clinifile", "-"), ("baseline", "--")):
            figures = run["figures"][name]
            left.plot(
                [q[1:3] for q in quantiles],
                [figures[q]["median"] for q in quantiles if q in figures],
                marker="o",
                linestyle=style,
                label=f"{name}, {run['processes']} process(es)",
            )
    left.set_xlabel("percentile")
    left.set_ylabel("ms")
    left.set_title(f"Presign latency under wrk ({presign_runs[0]['connections']} connections)")
    left.grid(alpha=0.3)
    left.legend(fontsize="small")
    for database, by_workers in proc["databases"].items():
        one = by_workers[min(by_workers, key=int)]["latency_percentiles_ms"]
        right.plot(
            list(one.values()), [int(q) for q in one], marker=".", label=f"{database}, 1 worker"
        )
    right.set_xlabel("ms from registration to processing_completed")
    right.set_ylabel("percentile")
    right.set_title("Processing latency at 20 arrivals/s")
    right.grid(alpha=0.3)
    right.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
