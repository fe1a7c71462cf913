"""The client host's program: uploads of mixed sizes through the load balancer with the
Python client (its own retry policy), every HTTP answer it saw recorded with its time.

    python -m tests.cluster.load CONFIG.json OUT.json
CONFIG: {"base_url", "uploads", "threads", "tenants": [{"key", "patients": [...]}], "seed"}
and optionally "sizes": [[share, low, high], ...] (SIZES when absent) and "stop_file": with
it, "uploads" is a least: the threads go on past it until that file exists (the harness
makes it once every fault and the deploy are over, so the load outlasts them however fast
the machine is).
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import random
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from clinifile.client import Client, RetryPolicy
from clinifile.client.errors import ClinifileError

# the client's retry policy with more attempts than its default 5: full jitter from 0.5 s
# can spend 5 attempts in about a second, less than a PostgreSQL restart takes (seen: one
# upload failed so during a run); 10 attempts wait up to ~60 s in all
RETRY = RetryPolicy(attempts=10)
SIZES = ((0.70, 1_000, 64_000), (0.25, 64_000, 1_000_000), (0.05, 1_000_000, 4_000_000))


class Recording(httpx.HTTPTransport):
    """An httpx transport that notes every answer's status (or the transport error)."""

    def __init__(self, seen: list[dict[str, Any]], lock: threading.Lock, kind: str) -> None:
        super().__init__()
        self.seen, self.lock, self.kind = seen, lock, kind

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        start = time.time()
        note: dict[str, Any] = {"at": start, "kind": self.kind, "method": request.method}
        note["path"] = request.url.path if self.kind == "api" else "<store>"
        try:
            response = super().handle_request(request)
        except httpx.TransportError as error:
            note["error"] = type(error).__name__
            with self.lock:
                self.seen.append(note)
            raise
        note["status"] = response.status_code
        with self.lock:
            self.seen.append(note)
        return response


def size_for(rng: random.Random, sizes: Sequence[Sequence[float]] = SIZES) -> int:
    pick = rng.random()
    for share, low, high in sizes:
        if pick < share:
            return rng.randint(int(low), int(high))
        pick -= share
    return int(sizes[-1][1])


def main(config_path: str, out_path: str) -> None:
    config = json.loads(Path(config_path).read_text())
    seen: list[dict[str, Any]] = []
    lock = threading.Lock()
    rng = random.Random(config["seed"])
    sizes = config.get("sizes") or SIZES
    stop_file = Path(config["stop_file"]) if config.get("stop_file") else None
    counter = itertools.count()
    drawing = threading.Lock()

    def next_item() -> tuple[int, dict[str, Any], int, int, int] | None:
        # drawn one by one in n's order from the seeded generator: the same plan each run
        with drawing:
            n = next(counter)
            if n >= config["uploads"] and (stop_file is None or stop_file.exists()):
                return None
            tenant = rng.choice(config["tenants"])
            patient = rng.choice(tenant["patients"])
            return (n, tenant, patient, size_for(rng, sizes), rng.getrandbits(64))

    local = threading.local()

    def client_for(key: str) -> Client:
        clients = local.__dict__.setdefault("clients", {})
        if key not in clients:
            clients[key] = Client(
                key,
                config["base_url"],
                retry=RETRY,
                transport=Recording(seen, lock, "api"),
                storage_transport=Recording(seen, lock, "store"),
            )
        return clients[key]  # type: ignore[no-any-return]

    def upload(item: tuple[int, dict[str, Any], int, int, int]) -> dict[str, Any]:
        n, tenant, patient, size, seed = item
        content = random.Random(seed).randbytes(size)
        result: dict[str, Any] = {
            "n": n,
            "account": tenant["account"],
            "patient": patient,
            "size": size,
            "sha256": hashlib.sha256(content).hexdigest(),
            "start": time.time(),
        }
        try:
            record = client_for(tenant["key"]).upload(
                patient, io.BytesIO(content), filename=f"file-{n}.bin", description=f"upload {n}"
            )
            result["id"] = int(record["id"])
        except ClinifileError as error:
            result["error"] = f"{type(error).__name__}: {error}"
        result["end"] = time.time()
        return result

    def uploader() -> list[dict[str, Any]]:
        done = []
        while (item := next_item()) is not None:
            done.append(upload(item))
        return done

    with ThreadPoolExecutor(config["threads"]) as pool:
        futures = [pool.submit(uploader) for _ in range(config["threads"])]
    results = sorted((r for f in futures for r in f.result()), key=lambda r: int(r["n"]))
    with open(out_path, "w") as out:
        json.dump({"results": results, "seen": seen}, out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
