"""The measured phases beside the fault run: uploads/s with 1, 2 and 3 worker hosts, the
time until the system is whole after each fault, and an API host drained by HAProxy while
a request is in flight through it.

Every upload made here is returned as the client's results are, so that the end checks
(completed exactly once, objects with their SHA-256, counted bytes) cover it too.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, bindparam, create_engine, text

from clinifile.client import Client, RetryPolicy
from clinifile.client.errors import ClinifileError
from tests.cluster.hosts import APIS, METRICS_PORT, WORKERS, Deployment, wait_until
from tests.cluster.netns import namespace_pids

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[2]

# the scaling batches: small files, so that the workers' share of the work is the largest
SMALL = [[1.0, 1_000, 64_000]]


class Uploads:
    """What the harness itself uploads, kept as the client program keeps its results."""

    def __init__(self) -> None:
        self.results: list[dict[str, Any]] = []
        self.seen: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def add(self, out: dict[str, Any]) -> None:
        with self.lock:
            self.results.extend(out["results"])
            self.seen.extend(out["seen"])


def drive(
    d: Deployment, tenants: list[dict[str, Any]], name: str, uploads: int, seed: int
) -> dict[str, Any]:
    """The client host's load program (tests/cluster/load.py) for one batch of small files."""
    root = d.root
    config = {
        "base_url": d.base_url,
        "uploads": uploads,
        "threads": 8,
        "tenants": tenants,
        "seed": seed,
        "sizes": SMALL,
    }
    (root / f"{name}.json").write_text(json.dumps(config))
    with (root / "logs" / f"client-{name}.log").open("ab") as logfile:
        subprocess.run(
            [
                "ip",
                "netns",
                "exec",
                d.hosts["client"].netns,
                sys.executable,
                "-m",
                "tests.cluster.load",
                str(root / f"{name}.json"),
                str(root / f"{name}-out.json"),
            ],
            cwd=ROOT,
            stdout=logfile,
            stderr=subprocess.STDOUT,
            check=True,
            timeout=300,
        )
    (root / f"{name}.json").unlink()  # it holds the keys
    out: dict[str, Any] = json.loads((root / f"{name}-out.json").read_text())
    return out


def _epoch(value: datetime) -> float:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def _completed(engine: Engine, ids: list[int]) -> tuple[int, float | None]:
    """How many of ids are completed, and the last one's processed_at (epoch seconds)."""
    query = text(
        "SELECT count(*) AS n, max(processed_at) AS last FROM attachments "
        "WHERE state = 'completed' AND id IN :ids"
    ).bindparams(bindparam("ids", expanding=True))
    with engine.connect() as conn:
        row = conn.execute(query, {"ids": ids}).one()
    return int(row.n), (_epoch(row.last) if row.last is not None else None)


def _signal_host(d: Deployment, name: str, signum: signal.Signals) -> None:
    """Every process of a host (a worker host runs only `clinifile worker` and its children)."""
    for pid in namespace_pids(d.hosts[name].netns):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


def worker_scaling(
    d: Deployment, tenants: list[dict[str, Any]], batch: int, uploads: Uploads
) -> dict[str, Any]:
    """For k = 1, 2, 3 worker hosts (the others stopped with SIGTERM, then started one by
    one): the client host sends `batch` small files through the load balancer while the k
    hosts are paused (SIGSTOP), so the batch waits queued; then the k hosts go on (SIGCONT)
    together. Two figures per k: the backlog's completions a second from that SIGCONT to
    the last processed_at (the workers' rate), and the batch's completions a second from
    the first registration to the last processed_at with the workers running (stopped only
    while the files are sent, so this is sending + draining: what a client sees)."""
    engine = create_engine(d.database_url)
    stoppers = [threading.Thread(target=d.hosts[n].stop, args=("worker", 60)) for n in WORKERS[1:]]
    for thread in stoppers:
        thread.start()
    for thread in stoppers:
        thread.join()
    per_k: dict[str, Any] = {}
    try:
        for k in (1, 2, 3):
            if k > 1:
                d.start_worker(WORKERS[k - 1])
            running = WORKERS[:k]
            # a paused host holds no lease: the last batch is drained and its loops idle
            for name in running:
                _signal_host(d, name, signal.SIGSTOP)
            try:
                out = drive(d, tenants, f"scale-{k}", batch, seed=180 + k)
                ids = [r["id"] for r in out["results"] if "id" in r]
                # none may be processed while the hosts are paused (else the rate is wrong)
                while_paused, _ = _completed(engine, ids)
            finally:
                resumed = time.time()
                for name in running:
                    _signal_host(d, name, signal.SIGCONT)
            uploads.add(out)
            first = min(r["start"] for r in out["results"])
            sent = max(r["end"] for r in out["results"]) - first
            deadline = time.monotonic() + 180
            done, last = _completed(engine, ids)
            while done < len(ids) and time.monotonic() < deadline:
                time.sleep(0.2)
                done, last = _completed(engine, ids)
            if done < len(ids) or last is None:
                raise RuntimeError(f"{k} worker hosts: {done} of {len(ids)} completed in 180 s")
            drain = last - resumed
            per_k[str(k)] = {
                "uploads": len(ids),
                "completed_while_paused": while_paused,
                "send_seconds": round(sent, 2),
                "backlog_drain_seconds": round(drain, 2),
                "backlog_completed_per_second": round(len(ids) / drain, 1),
                "end_to_end_completed_per_second": round(len(ids) / (sent + drain), 1),
            }
            log.info("%d worker host(s): %s", k, per_k[str(k)])
    finally:
        engine.dispose()
        for name in WORKERS:  # never leave a host paused
            _signal_host(d, name, signal.SIGCONT)
    if any(v["completed_while_paused"] for v in per_k.values()):
        raise RuntimeError(f"uploads completed while the worker hosts were paused: {per_k}")
    figures: dict[str, Any] = {"per_worker_hosts": per_k}
    for kind in ("backlog", "end_to_end"):
        rates = {k: v[f"{kind}_completed_per_second"] for k, v in per_k.items()}
        for high, low in (("2", "1"), ("3", "1"), ("3", "2")):
            figures[f"{kind}_ratio_{high}_to_{low}"] = round(rates[high] / rates[low], 2)
    return figures


# --- whole again after a fault ----------------------------------------------------------


def every_host_in_service(d: Deployment) -> bool:
    """Both API servers UP in HAProxy, three volume servers joined to the master, and
    every worker host's /metrics answering (its `clinifile worker` running)."""
    try:
        servers = d.lb_servers()
    except OSError:
        return False
    if any(servers.get(n, {}).get("status") != "UP" for n in APIS):
        return False
    if d.volumes_joined() != 3:
        return False
    for name in WORKERS:
        try:
            url = f"http://{d.address(name)}:{METRICS_PORT}/metrics"
            if httpx.get(url, timeout=2).status_code != 200:
                return False
        except httpx.HTTPError:
            return False
    return True


class Prober:
    """Measures when the system is whole again after a fault: from the fault's injection
    until (a) /readyz through the load balancer answers 200 and every host is in service
    (every_host_in_service), and then (b) a probe upload whose sending began after that
    (from the harness, through the load balancer, with the client's retries) is
    registered and its processing completed, as GET /v1/attachments/{id} says."""

    def __init__(self, d: Deployment, tenant: dict[str, Any], uploads: Uploads) -> None:
        self.d, self.tenant, self.uploads = d, tenant, uploads
        self.client = Client(tenant["key"], d.base_url, retry=RetryPolicy(attempts=10))
        self.count = 0

    def close(self) -> None:
        self.client.close()

    def _ready(self) -> bool:
        try:
            ready = httpx.get(f"{self.d.base_url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False
        return ready and every_host_in_service(self.d)

    def until_whole(self, start: float, timeout: float = 120.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        try:
            wait_until("the system whole (ready)", self._ready, timeout=timeout)
            ready = time.time()
            result = self._probe()
            while "id" in result:
                record = self.client.attachment(result["id"])
                if record.get("processing_completed"):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"probe {result['id']} not completed in {timeout:.0f} s")
                time.sleep(0.1)
            else:
                raise RuntimeError(f"the probe upload failed: {result.get('error')}")
        except (RuntimeError, ClinifileError) as error:
            log.warning("not whole again: %s", error)
            return {"seconds_until_whole": None, "why_not_whole": str(error)}
        whole = time.time()
        return {
            "seconds_until_whole": round(whole - start, 1),
            "seconds_until_ready": round(ready - start, 1),
            "probe_seconds": round(whole - ready, 2),
        }

    def _probe(self) -> dict[str, Any]:
        self.count += 1
        rng = random.Random(1800 + self.count)
        content = rng.randbytes(rng.randint(1_000, 64_000))
        patient = self.tenant["patients"][0]
        result: dict[str, Any] = {
            "n": f"probe-{self.count}",
            "account": self.tenant["account"],
            "patient": patient,
            "size": len(content),
            "sha256": hashlib.sha256(content).hexdigest(),
            "start": time.time(),
        }
        try:
            record = self.client.upload(
                patient,
                io.BytesIO(content),
                filename=f"probe-{self.count}.bin",
                description="whole-again probe",
            )
            result["id"] = int(record["id"])
        except ClinifileError as error:
            result["error"] = f"{type(error).__name__}: {error}"
        result["end"] = time.time()
        self.uploads.add({"results": [result], "seen": []})
        return result


# --- a drained API host finishes its requests --------------------------------------------


def _slow_body(seconds: float, patient: int) -> Iterator[bytes]:
    """A patient's JSON sent in pieces over `seconds` (chunked), so the request is in
    flight on the API host for that long."""
    pieces = [b'{"first_name": "Drain", ', b'"last_name": "Check' + str(patient).encode(), b'"}']
    yield pieces[0]
    for piece in pieces[1:]:
        time.sleep(seconds / 2)
        yield piece


def drained_host_finishes(d: Deployment, tenant: dict[str, Any]) -> dict[str, Any]:
    """api1 put in maintenance on HAProxy's admin socket, so that a slow request (a POST
    /v1/patients whose body takes 4 s to arrive) goes to api2; while it is in flight api2
    is set to drain and api1 back to ready; 20 requests then go through the load balancer.
    The check: the slow request ends 201, the 20 end 200, and api2's sessions in HAProxy
    (stot) grew by exactly one (the slow request): none of the new ones reached it."""
    name, other = APIS[1], APIS[0]
    result: dict[str, Any] = {"ok": False, "drained": name}
    slow: dict[str, Any] = {}

    def send_slow() -> None:
        try:
            answer = httpx.post(
                f"{d.base_url}/v1/patients",
                content=_slow_body(4.0, 1),
                headers={"Content-Type": "application/json", "User-Agent": "cluster-drain"},
                auth=(tenant["key"], ""),
                timeout=30,
            )
            slow["status"] = answer.status_code
        except httpx.HTTPError as error:
            slow["error"] = type(error).__name__

    try:
        d.haproxy(f"set server apis/{other} state maint")
        stot_before = int(d.lb_servers()[name]["stot"])
        thread = threading.Thread(target=send_slow)
        started = time.time()
        thread.start()
        wait_until(
            f"the slow request in flight on {name}",
            lambda: int(d.lb_servers()[name]["scur"]) >= 1,
            timeout=5,
        )
        d.haproxy(f"set server apis/{name} state drain")
        d.haproxy(f"set server apis/{other} state ready")
        statuses = []
        with httpx.Client(
            auth=(tenant["key"], ""), headers={"User-Agent": "cluster-drain"}, timeout=10
        ) as client:
            for _ in range(20):
                statuses.append(client.get(f"{d.base_url}/v1/patients").status_code)
        in_flight_when_done = thread.is_alive()
        thread.join(30)
        servers = d.lb_servers()
        result |= {
            "slow_request": slow,
            "slow_request_seconds": round(time.time() - started, 1),
            "slow_request_still_in_flight_after_the_20": in_flight_when_done,
            "statuses_of_the_20": {str(s): statuses.count(s) for s in set(statuses)},
            "drained_host_sessions_added": int(servers[name]["stot"]) - stot_before,
            "drained_host_status": servers[name]["status"],
        }
        result["ok"] = (
            slow.get("status") == 201
            and in_flight_when_done
            and statuses == [200] * 20
            and result["drained_host_sessions_added"] == 1
        )
    except (OSError, RuntimeError, KeyError, ValueError) as error:
        result["error"] = f"{type(error).__name__}: {error}"
    finally:
        for server in APIS:
            with contextlib.suppress(OSError):
                d.haproxy(f"set server apis/{server} state ready")
        wait_until(
            "both API servers UP",
            lambda: all(s["status"] == "UP" for s in d.lb_servers().values()),
            timeout=30,
        )
    return result
