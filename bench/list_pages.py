"""Latency of list pages as one clinic grows from 1,000 to 1,000,000 attachments, on SQLite
and (given a URL) on PostgreSQL, with the plans the databases chose at the largest size.

    .venv/bin/python -m bench.list_pages [--rows 1000000] [--rounds 200]
        [--database-url postgresql+psycopg://postgres@127.0.0.1/postgres] [--write]

The clinic's one patient holds every attachment (its list is the account's: the worst
case). Rows are added in steps by bulk inserts (bench._list_data); after each step every
query runs in-process through the real app (auth included) `rounds` times. PostgreSQL runs
in a scratch database that is dropped afterwards. --write saves the figures and the chart
next to docs/PERFORMANCE.md and rewrites its list pages section (bench.list_report).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, event

from bench import _list_data
from clinifile.api.app import create_app
from clinifile.config import Settings
from clinifile.db.migrate import upgrade
from clinifile.runtime import build_runtime

QUERIES = {
    "first page": "/v1/patient_attachments?per_page=50",
    "page 10": "/v1/patient_attachments?per_page=50&page=10",
    "size>=500, created_at:desc": (
        "/v1/patient_attachments?q[]=size:>=500&sort=created_at:desc&per_page=50"
    ),
    "one patient's list": "/v1/patients/{patient}/patient_attachments?per_page=50",
}


def _steps(rows: int) -> list[int]:
    steps, n = [], 1_000
    while n < rows:
        steps.append(n)
        n *= 10
    return [*steps, rows]


@dataclass
class Sized:
    """One database holding one clinic of `rows` attachments, served in-process."""

    rows: int
    fill_seconds: float
    clinic: _list_data.Clinic
    engine: Engine
    client: TestClient
    timings: dict[str, list[float]]

    def time(self, query: str) -> None:
        url = QUERIES[query].format(patient=self.clinic.patient_id)
        started = time.perf_counter()
        response = self.client.get(url, auth=(self.clinic.key, ""))
        self.timings.setdefault(query, []).append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text


def _measure(sized: list[Sized], rounds: int) -> list[float]:
    """Every query on every size, round after round, interleaved (load on the shared
    machine falls on all sizes alike); the load averages before and after."""
    loads = [os.getloadavg()[0]]
    for s in sized:  # warm: the first requests pay for caches and the pool
        for query in QUERIES:
            for _ in range(5):
                s.time(query)
        s.timings.clear()
    for _ in range(rounds):
        for s in sized:
            for query in QUERIES:
                s.time(query)
    loads.append(os.getloadavg()[0])
    return loads


def _figures(timings: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(timings, n=100)
    return {"p50_ms": round(cuts[49], 2), "p95_ms": round(cuts[94], 2)}


def _plans(engine: Engine, client: TestClient, c: _list_data.Clinic) -> dict[str, list[str]]:
    """The statements each query ran against attachments, each with its plan."""
    plans: dict[str, list[str]] = {}
    for name, path in QUERIES.items():
        seen: list[tuple[str, Any]] = []

        def record(_c: Any, _cur: Any, statement: str, params: Any, *_: Any) -> None:
            if "attachment" in statement and not statement.startswith("EXPLAIN"):
                seen.append((statement, params))  # noqa: B023 (used before the next loop)

        event.listen(engine, "before_cursor_execute", record)
        try:
            client.get(path.format(patient=c.patient_id), auth=(c.key, ""))
        finally:
            event.remove(engine, "before_cursor_execute", record)
        sqlite = engine.dialect.name == "sqlite"
        explained = []
        with engine.connect() as conn:
            for statement, params in seen:
                prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
                rows = conn.exec_driver_sql(prefix + statement, params).all()
                plan = (
                    [f"{'  ' * _depth(r)}{r[-1]}" for r in rows] if sqlite else [r[0] for r in rows]
                )
                explained.append(" ".join(statement.split()) + "\n" + "\n".join(plan))
        plans[name] = explained
    return plans


def _depth(row: Any) -> int:
    return 0 if row[1] == 0 else 1


def _sized(stack: ExitStack, tmp: Path, rows: int, postgres_url: str | None) -> Sized:
    url = stack.enter_context(_list_data.scratch_postgres(postgres_url)) if postgres_url else None
    settings = Settings(
        data_dir=tmp / str(rows),
        database_url=url,
        rate_limit_per_minute=10**9,
        s3_endpoint_url="http://127.0.0.1:9",  # lists never touch storage
    )
    settings.data_dir.mkdir()
    upgrade(settings.resolved_database_url())
    runtime = build_runtime(settings)
    stack.callback(runtime.close)
    clinic = _list_data.clinic(runtime)
    started = time.perf_counter()
    _list_data.grow(runtime.engine, clinic, 0, rows)
    fill_s = round(time.perf_counter() - started, 1)
    client = TestClient(create_app(runtime), headers={"User-Agent": "bench"})
    stack.enter_context(client)
    print(f"  {runtime.engine.dialect.name}: {rows:,} rows in {fill_s} s", flush=True)
    return Sized(rows, fill_s, clinic, runtime.engine, client, {})


def run(rows: int, rounds: int, postgres_url: str | None) -> dict[str, Any]:
    """One database engine: a database per size, measured together; the plans at the
    largest."""
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        sized = [_sized(stack, Path(tmp), n, postgres_url) for n in _steps(rows)]
        loads = _measure(sized, rounds)
        largest = sized[-1]
        plans = _plans(largest.engine, largest.client, largest.clinic)
        database = largest.engine.dialect.name
        steps = [
            {
                "rows": s.rows,
                "fill_seconds": s.fill_seconds,
                "queries": {q: _figures(t) for q, t in s.timings.items()},
            }
            for s in sized
        ]
    return {
        "database": database,
        "load_average": [round(x, 2) for x in loads],
        "steps": steps,
        "plans": plans,
    }


def run_all(rows: int, rounds: int, postgres_url: str | None, command: str) -> dict[str, Any]:
    databases = [run(rows, rounds, None)]
    if postgres_url:
        databases.append(run(rows, rounds, postgres_url))
    return {
        "command": command,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "rows": rows,
        "rounds": rounds,
        "databases": databases,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--database-url", default=None, help="PostgreSQL, besides SQLite")
    parser.add_argument("--write", action="store_true", help="save figures, chart and doc")
    args = parser.parse_args()
    command = f"python -m bench.list_pages --rows {args.rows} --rounds {args.rounds}"
    if args.database_url:
        command += " --database-url ..."
    results = run_all(args.rows, args.rounds, args.database_url, command)
    if args.write:
        from bench import list_report

        list_report.save(results)
    else:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
