"""Processing throughput and create-to-completed latency with 1, 2 and 4 worker processes.

    .venv/bin/python -m bench.processing [--database-url postgresql+psycopg://postgres@127.0.0.1/postgres]
        [--backlog 300] [--rate 20] [--seconds 10] [--workers 1,2,4]

With a PostgreSQL URL, a fresh database is created for the run (and dropped after). For
each worker count: a backlog of small (10 KB) uploads is drained by that many `clinifile
worker` processes (attachments/s), then uploads arrive at a steady rate and the time from
registration to processing_completed is measured (p50, p95; detected by polling the
database every 10 ms).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import func, select, text, update
from sqlalchemy.engine import make_url

from bench._support import runtime_on
from clinifile.config import Settings
from clinifile.db.attachments import notify_new_work
from clinifile.db.models import Attachment
from clinifile.db.types import utcnow
from clinifile.runtime import Runtime
from clinifile.services import accounts, attachments
from clinifile.services.api_keys import authenticate
from clinifile.services.object_keys import temp_prefix
from clinifile.services.uploads import issue_temp_id
from clinifile.storage.seaweed import EmbeddedSeaweed
from clinifile.worker.runner import WorkerPool

PAYLOAD = b"%PDF-1.4\n" + b"x" * 10_000


class Clinic:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.account_id = accounts.create_account(runtime, name="B", region="au1", plan="paid")
        self.patient_id = accounts.create_patient(
            runtime, account_id=self.account_id, first_name="B", last_name="P"
        )
        key = accounts.create_api_key(runtime, self.account_id)
        with runtime.sessions() as session:
            self.principal = authenticate(session, runtime.settings, key)
        self.store = runtime.store("au1")

    def upload(self) -> int:
        temp_id = issue_temp_id(self.runtime.secret, self.account_id, self.patient_id)
        key = temp_prefix(self.account_id, self.patient_id, temp_id) + "f.pdf"
        self.store._client.put_object(Bucket=self.store.bucket, Key=key, Body=PAYLOAD)  # type: ignore[attr-defined]
        record = attachments.create(
            self.runtime,
            self.principal,
            patient_id=self.patient_id,
            upload_url=self.store.bucket_url + key,
            description=None,
        )
        return record.id


def _completed(runtime: Runtime, ids: list[int]) -> set[int]:
    with runtime.sessions() as session:
        return set(
            session.scalars(
                select(Attachment.id).where(Attachment.id.in_(ids), Attachment.state == "completed")
            )
        )


def _workers(settings: Settings, count: int) -> list[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLINIFILE_")}
    env.update(settings.as_environment(), CLINIFILE_WORKER_POLL_SECONDS="0.5")
    return [
        subprocess.Popen(
            [sys.executable, "-m", "clinifile.cli", "worker", "--log-level", "warning"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(count)
    ]


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for p in processes:
        p.send_signal(signal.SIGTERM)
    for p in processes:
        p.wait(timeout=60)


def _count_completed(runtime: Runtime, ids: list[int]) -> int:
    """How many of ids are completed: the backlog's ids are consecutive, so one count over
    their range (an index's range scan) instead of a list of a thousand ids, whose cost in
    this process and the database's took the cores from the workers."""
    low, high = min(ids), max(ids)
    assert high - low + 1 == len(ids), "the backlog's ids are consecutive"
    with runtime.sessions() as session:
        return session.execute(
            select(func.count()).where(
                Attachment.id.between(low, high), Attachment.state == "completed"
            )
        ).scalar_one()


def _wait_all(runtime: Runtime, ids: list[int], started: float, timeout: float = 600) -> float:
    """Seconds from started until every one of ids is completed. The bench looks seldom
    while much is left and often near the end (every 0.25 s down to every 10 ms, by the rate
    so far): its queries take from the cores being measured, so fewer of them, without
    losing the end's precision."""
    while True:
        done = _count_completed(runtime, ids)
        elapsed = time.perf_counter() - started
        if done == len(ids):
            return elapsed
        if elapsed > timeout:
            raise RuntimeError("processing did not finish in time")
        left = (len(ids) - done) * elapsed / max(done, 1)
        time.sleep(min(0.25, max(0.01, left / 4)))


def _hold(runtime: Runtime, ids: list[int]) -> None:
    """Makes the backlog due only in an hour, so that workers which are still starting
    are not timed."""
    with runtime.transaction() as session:
        session.execute(
            update(Attachment)
            .where(Attachment.id.in_(ids))
            .values(next_attempt_at=utcnow() + timedelta(hours=1))
        )


def _release(runtime: Runtime, ids: list[int]) -> None:
    """Makes the backlog due now, and wakes the workers."""
    with runtime.transaction() as session:
        session.execute(
            update(Attachment).where(Attachment.id.in_(ids)).values(next_attempt_at=utcnow())
        )
        notify_new_work(session)
    runtime.work_enqueued()


def _wait_connected(runtime: Runtime, processes: list[subprocess.Popen[bytes]]) -> None:
    """Waits until each `clinifile worker` process holds its two connections to the
    database (its LISTEN and its claims): started, and polling for work."""
    with runtime.sessions() as session:
        own = session.execute(
            text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        ).scalar_one()
    deadline = time.monotonic() + 60
    while True:
        with runtime.sessions() as session:
            count = session.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
            ).scalar_one()
        if count >= own + 2 * len(processes):
            return
        if time.monotonic() > deadline:
            raise RuntimeError("the worker processes did not connect in time")
        time.sleep(0.05)


def measure(clinic: Clinic, settings: Settings, workers: int, args: Any) -> dict[str, Any]:
    """On PostgreSQL, `clinifile worker` processes (woken by LISTEN/NOTIFY); on SQLite, the
    worker threads of the process that registers the uploads, as `clinifile serve` runs
    them on the embedded default (woken at once, in-process)."""
    backlog = [clinic.upload() for _ in range(args.backlog)]
    in_process = settings.resolved_database_url().startswith("sqlite")
    _hold(clinic.runtime, backlog)
    pool = WorkerPool(clinic.runtime, concurrency=workers) if in_process else None
    processes = [] if pool else _workers(settings, workers)
    if pool:
        pool.start()
    else:
        _wait_connected(clinic.runtime, processes)
    try:
        _release(clinic.runtime, backlog)
        drain = _wait_all(clinic.runtime, backlog, started=time.perf_counter())
        created: dict[int, float] = {}
        latencies: list[float] = []
        done = threading.Event()

        def watch() -> None:
            while not done.is_set() or len(latencies) < len(created):
                pending = [i for i in list(created) if i not in seen]
                for i in _completed(clinic.runtime, pending) if pending else ():
                    seen.add(i)
                    latencies.append((time.perf_counter() - created[i]) * 1000)
                time.sleep(0.01)

        seen: set[int] = set()
        watcher = threading.Thread(target=watch)
        watcher.start()
        interval = 1 / args.rate
        next_at = time.perf_counter()
        for _ in range(int(args.rate * args.seconds)):
            next_at += interval
            created[clinic.upload()] = time.perf_counter()
            time.sleep(max(0.0, next_at - time.perf_counter()))
        done.set()
        watcher.join(timeout=120)
    finally:
        _stop(processes)
        if pool:
            pool.stop()
    latencies.sort()
    return {
        "workers": workers,
        "drain_attachments_per_s": round(len(backlog) / drain, 1),
        "latency_p50_ms": round(statistics.median(latencies), 1),
        "latency_p95_ms": round(latencies[int(len(latencies) * 0.95) - 1], 1),
        # the distribution, for the report's chart: every 5th percentile, then p99
        "latency_percentiles_ms": {
            q: round(latencies[max(0, int(len(latencies) * q / 100) - 1)], 1)
            for q in (*range(5, 100, 5), 99)
        },
        "arrivals_per_s": args.rate,
    }


def _admin(admin: Any) -> psycopg.Connection[Any]:
    return psycopg.connect(
        host=admin.host,
        user=admin.username,
        port=admin.port,
        dbname=admin.database,
        autocommit=True,
    )


def _baseline_client(config: dict[str, str], keys: list[tuple[str, str]]) -> tuple[float, float]:
    """One plain boto3 client doing a job's store operations for each (upload, permanent)
    key pair, one after another; its start and end (time.time(), after a warm-up)."""
    import boto3
    from botocore.config import Config

    bucket = config.pop("bucket")
    s3 = boto3.client("s3", config=Config(s3={"addressing_style": "path"}), **config)
    s3.list_objects_v2(Bucket=bucket, MaxKeys=1)
    started = time.time()
    for source, target in keys:
        s3.get_object(Bucket=bucket, Key=source)["Body"].read()
        s3.copy_object(Bucket=bucket, Key=target, CopySource={"Bucket": bucket, "Key": source})
        s3.delete_object(Bucket=bucket, Key=source)
    return started, time.time()


def store_ops(runtime: Runtime, jobs: int, clients: int = 1) -> dict[str, float]:
    """The baseline: the store operations clinifile's worker makes for a job (GET the whole
    upload, COPY it to its permanent key, DELETE the upload), made by `clients` plain boto3
    clients in their own processes at once, each job after job: jobs/s over all of them."""
    store = runtime.store("au1")
    s3, bucket = store._client, store.bucket  # type: ignore[attr-defined]
    run_id = uuid.uuid4().hex[:8]
    pairs = [
        (f"bench-baseline/{run_id}/{i}/temp", f"bench-baseline/{run_id}/{i}/final")
        for i in range(jobs)
    ]
    for source, _ in pairs:
        s3.put_object(Bucket=bucket, Key=source, Body=PAYLOAD)
    settings = runtime.settings
    config = {
        "bucket": bucket,
        "endpoint_url": str(settings.s3_endpoint_url),
        "aws_access_key_id": str(settings.s3_access_key_id),
        "aws_secret_access_key": str(settings.s3_secret_access_key),
        "region_name": s3.meta.region_name,
    }
    with ProcessPoolExecutor(clients, mp_context=multiprocessing.get_context("spawn")) as pool:
        spans = list(
            pool.map(
                _baseline_client,
                [dict(config)] * clients,
                [pairs[i::clients] for i in range(clients)],
            )
        )
    elapsed = max(end for _, end in spans) - min(start for start, _ in spans)
    store.delete_many(target for _, target in pairs)
    return {
        "clients": clients,
        "per_job_ms": round(elapsed / jobs * clients * 1000, 2),
        "jobs_per_s": round(jobs / elapsed, 1),
    }


def run(
    database_url: str | None,
    *,
    backlog: int = 300,
    rate: float = 20,
    seconds: float = 10,
    workers: tuple[int, ...] = (1,),
    settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """settings: more Settings for the runtime and its workers (bench.scanning's clamd)."""
    args = argparse.Namespace(backlog=backlog, rate=rate, seconds=seconds)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        weed = EmbeddedSeaweed(root / "weed")
        weed.start()
        url, admin, name = database_url, None, None
        if url and url.startswith("postgresql"):
            admin = make_url(url)
            name = f"clinifile_bench_{uuid.uuid4().hex[:8]}"
            with _admin(admin) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            url = admin.set(database=name).render_as_string(hide_password=False)
        try:
            secret = uuid.uuid4().hex
            # previews are their own step after completion, measured by bench.previews
            extra = {"preview_enabled": False, **(settings or {})}
            runtime = runtime_on(weed, root / "data", database_url=url, secret_key=secret, **extra)
            clinic = Clinic(runtime)
            results = []
            for n in workers:
                result = measure(clinic, runtime.settings, n, args)
                result["store_ops_baseline"] = store_ops(runtime, jobs=backlog, clients=n)
                result["drain_ratio"] = round(
                    result["drain_attachments_per_s"] / result["store_ops_baseline"]["jobs_per_s"],
                    2,
                )
                results.append(result)
            runtime.close()
            return {
                "database": "postgresql" if admin else "sqlite",
                "store_ops_baseline": results[0]["store_ops_baseline"],
                "results": results,
            }
        finally:
            weed.stop()
            if admin is not None:
                with _admin(admin) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--backlog", type=int, default=300)
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", default="1,2,4")
    args = parser.parse_args()
    workers = tuple(int(n) for n in args.workers.split(","))
    result = run(
        args.database_url,
        backlog=args.backlog,
        rate=args.rate,
        seconds=args.seconds,
        workers=workers,
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
