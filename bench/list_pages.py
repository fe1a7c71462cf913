"""Latency of list pages at 1,000 and 1,000,000 attachments (SQLite by default).

    .venv/bin/python -m bench.list_pages [--rows 1000000] [--database-url URL]

Rows are inserted straight into the database (no objects are needed to list them). Two
layouts are measured: the large table spread over 1,000 accounts (the calling account holds
1,000 of the rows: a multi-clinic deployment), and all rows in the calling account (one
very large clinic). Each query runs in-process through the real app, 200 times.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import insert

from clinifile.api.app import create_app
from clinifile.config import Settings
from clinifile.db.migrate import upgrade
from clinifile.db.models import Attachment
from clinifile.runtime import Runtime, build_runtime
from clinifile.services import accounts

QUERIES = {
    "first page": "/v1/patient_attachments?per_page=50",
    "page 10": "/v1/patient_attachments?per_page=50&page=10",
    "filter size>=500, sort created_at:desc": (
        "/v1/patient_attachments?q[]=size:>=500&sort=created_at:desc&per_page=50"
    ),
    "one patient's list": "/v1/patients/{patient}/patient_attachments?per_page=50",
}


def _fill(runtime: Runtime, rows: int, accounts_n: int) -> tuple[str, int]:
    """Inserts rows attachments over accounts_n accounts; returns the first one's key and
    patient."""
    made = []
    for i in range(accounts_n):
        account_id = accounts.create_account(runtime, name=f"c{i}", region="au1", plan="paid")
        patient_id = accounts.create_patient(
            runtime, account_id=account_id, first_name="P", last_name=str(i)
        )
        made.append((account_id, patient_id))
    key = accounts.create_api_key(runtime, made[0][0])
    from clinifile.db.accounts import first_user

    with runtime.sessions() as session:
        user_id = first_user(session, made[0][0]).id
    start = datetime(2026, 1, 1, tzinfo=UTC)
    batch: list[dict[str, Any]] = []
    with runtime.engine.begin() as conn:
        for n in range(rows):
            account_id, patient_id = made[n % accounts_n]
            at = start + timedelta(seconds=n)
            batch.append(
                {
                    "account_id": account_id,
                    "patient_id": patient_id,
                    "user_id": user_id,
                    "region": "au1",
                    "temp_key": f"{account_id}/t/{n}",
                    "reserved_bytes": n % 1000,
                    "size": n % 1000,
                    "filename": f"f{n}.pdf",
                    "content_type": "application/pdf",
                    "state": "completed",
                    "attempts": 1,
                    "next_attempt_at": at,
                    "processed_at": at,
                    "created_at": at,
                    "updated_at": at,
                    "permanent_key": f"{account_id}/p/{n}",
                }
            )
            if len(batch) == 20_000:
                conn.execute(insert(Attachment), batch)
                batch.clear()
        if batch:
            conn.execute(insert(Attachment), batch)
    return key, made[0][1]


def _measure(client: TestClient, key: str, patient: int, rounds: int) -> dict[str, Any]:
    results = {}
    for name, path in QUERIES.items():
        url = path.format(patient=patient)
        assert client.get(url, auth=(key, "")).status_code == 200
        timings = []
        for _ in range(rounds):
            started = time.perf_counter()
            client.get(url, auth=(key, ""))
            timings.append((time.perf_counter() - started) * 1000)
        timings.sort()
        results[name] = {
            "p50_ms": round(statistics.median(timings), 2),
            "p95_ms": round(timings[int(len(timings) * 0.95) - 1], 2),
        }
    return results


def run(rows: int, accounts_n: int, database_url: str | None, rounds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp),
            database_url=database_url,
            rate_limit_per_minute=10**9,
            s3_endpoint_url="http://127.0.0.1:9",  # lists never touch storage
        )
        upgrade(settings.resolved_database_url())
        runtime = build_runtime(settings)
        started = time.perf_counter()
        key, patient = _fill(runtime, rows, accounts_n)
        fill_s = time.perf_counter() - started
        with TestClient(create_app(runtime), headers={"User-Agent": "bench"}) as client:
            measured = _measure(client, key, patient, rounds)
        runtime.close()
    return {"rows": rows, "accounts": accounts_n, "fill_seconds": round(fill_s, 1), **measured}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    report = [
        run(1_000, 1, args.database_url, args.rounds),
        run(args.rows, 1_000, args.database_url, args.rounds),
        run(args.rows, 1, args.database_url, args.rounds),
    ]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
