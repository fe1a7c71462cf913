"""Webhook latency: from processing_completed to the receiver holding the event.

    .venv/bin/python -m bench.webhooks [--database-url postgresql+psycopg://...] [--rate 20]
        [--seconds 10]

Uploads (10 KB) are registered at a steady rate; one worker processes them and delivers the
`patient_attachment.processed` event of each to a receiver listening on loopback in a
process of its own (so that it takes no CPU from the worker's). The latency of one event
is the receiver's clock when the request's body has arrived minus the event's `timestamp`,
set in the transaction that marks the attachment processed (same machine, same clock). On
SQLite the worker is the thread of the process that registers the uploads, as `clinifile
serve` runs it; on PostgreSQL a `clinifile worker` process.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from bench._support import runtime_on
from bench.processing import Clinic, _admin, _stop, _workers
from clinifile.api.presenters import attachment_at
from clinifile.services import webhooks
from clinifile.storage.seaweed import EmbeddedSeaweed
from clinifile.worker.runner import WorkerPool

PROCESSED = "patient_attachment.processed"


def receive(port_file: Path, log: Path) -> None:
    """The receiver process: answers 200 and writes "<arrival> <event timestamp>" a line."""
    out = open(log, "a", buffering=1)  # noqa: SIM115 - open for the process's life

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            arrived = time.time()
            event = json.loads(body)
            stamp = datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))
            out.write(f"{arrived} {stamp.timestamp()}\n")
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port_file.write_text(str(server.server_address[1]))
    server.serve_forever()


def _start_receiver(root: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    port_file, log = root / "receiver.port", root / "receiver.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.webhooks", "--receive", str(port_file), str(log)]
    )
    deadline = time.monotonic() + 30
    while not port_file.exists() or not port_file.read_text():
        if time.monotonic() > deadline:
            raise RuntimeError("the receiver did not start")
        time.sleep(0.05)
    return process, f"http://127.0.0.1:{port_file.read_text()}/hooks", log


def _latencies(log: Path) -> list[float]:
    lines = log.read_text().split("\n") if log.exists() else []
    return [(float(a) - float(s)) * 1000 for a, s in (line.split() for line in lines if line)]


def measure(database_url: str | None, *, rate: float, seconds: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        weed = EmbeddedSeaweed(root / "weed")
        weed.start()
        receiver, url, log = _start_receiver(root)
        admin, name = None, None
        if database_url and database_url.startswith("postgresql"):
            admin = make_url(database_url)
            name = f"clinifile_bench_{uuid.uuid4().hex[:8]}"
            with _admin(admin) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            database_url = admin.set(database=name).render_as_string(hide_password=False)
        try:
            runtime = runtime_on(
                weed,
                root / "data",
                database_url=database_url,
                secret_key=uuid.uuid4().hex,
                webhook_allow_private=True,
            )
            clinic = Clinic(runtime)
            webhooks.create_for_account(
                runtime,
                clinic.account_id,
                url=url,
                events=[PROCESSED],
                description=None,
                api_base_url="http://127.0.0.1:8000",
            )
            pool = None if admin else WorkerPool(runtime, concurrency=1, render=attachment_at)
            processes = _workers(runtime.settings, 1) if admin else []
            if pool:
                pool.start()
            count = int(rate * seconds)
            try:
                interval, next_at = 1 / rate, time.perf_counter()
                for _ in range(count):
                    next_at += interval
                    clinic.upload()
                    time.sleep(max(0.0, next_at - time.perf_counter()))
                deadline = time.monotonic() + 120
                while len(_latencies(log)) < count and time.monotonic() < deadline:
                    time.sleep(0.05)
            finally:
                _stop(processes)
                if pool:
                    pool.stop()
            runtime.close()
        finally:
            receiver.kill()
            receiver.wait()
            weed.stop()
            if admin is not None:
                with _admin(admin) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        latencies = sorted(_latencies(log))
    if len(latencies) < count:
        raise RuntimeError(f"only {len(latencies)} of {count} events arrived within 2 minutes")
    return {
        "database": "postgresql" if admin else "sqlite",
        "events": len(latencies),
        "arrivals_per_s": rate,
        "latency_p50_ms": round(statistics.median(latencies), 1),
        "latency_p95_ms": round(latencies[max(0, int(len(latencies) * 0.95) - 1)], 1),
        "latency_max_ms": round(latencies[-1], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--receive", nargs=2, metavar=("PORT_FILE", "LOG"), default=None)
    args = parser.parse_args()
    if args.receive:
        receive(Path(args.receive[0]), Path(args.receive[1]))
        return
    print(json.dumps(measure(args.database_url, rate=args.rate, seconds=args.seconds), indent=2))


if __name__ == "__main__":
    main()
