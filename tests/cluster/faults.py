"""The faults injected while uploads flow, one after another: each breaks a host, waits,
and makes it whole again; its window (start, end) is when the client may see errors."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tests.cluster.hosts import APIS, WORKERS, Deployment, wait_until

if TYPE_CHECKING:
    from tests.cluster.phases import Prober

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fault:
    name: str
    before: float  # seconds of normal flow before it
    down: float  # seconds broken
    breaks: Callable[[Deployment], None]
    mends: Callable[[Deployment], None]

    def inject(self, deployment: Deployment, prober: Prober | None = None) -> dict[str, Any]:
        """Breaks, waits, mends; with a prober, then waits until the system is whole again
        (phases.Prober: every host in service and a new upload completed) and notes when."""
        time.sleep(self.before)
        log.info("fault: %s", self.name)
        start = time.time()
        self.breaks(deployment)
        time.sleep(self.down)
        self.mends(deployment)
        end = time.time()
        log.info("fault %s mended after %.1fs", self.name, end - start)
        window = {"name": self.name, "start": start, "end": end, "seconds": round(end - start, 1)}
        if prober is not None:
            window |= prober.until_whole(start)
            log.info("fault %s: whole again after %ss", self.name, window["seconds_until_whole"])
        return window


def _kill_worker(d: Deployment) -> None:
    d.hosts["w1"].kill_all()


def _start_worker(d: Deployment) -> None:
    # started, not waited for: the other two hosts carry the queue meanwhile
    d.start_worker("w1", wait=False)


def _api_link(up: bool) -> Callable[[Deployment], None]:
    def change(d: Deployment) -> None:
        d.hosts["api1"].link(up)

    return change


def _stop_volume(d: Deployment) -> None:
    d.hosts["vol3"].stop("volume")


def _start_volume(d: Deployment) -> None:
    d.start_volume("vol3")
    wait_until("vol3 to rejoin", lambda: d.volumes_joined() == 3)


def _stop_db(d: Deployment) -> None:
    d.stop_db()


def _stop_s3(d: Deployment) -> None:
    d.hosts["s3"].stop("s3")


def _pause_redis(d: Deployment) -> None:
    d.hosts["redis"].signal("redis", signal.SIGSTOP)


def _resume_redis(d: Deployment) -> None:
    d.hosts["redis"].signal("redis", signal.SIGCONT)


FAULTS = (
    Fault("SIGKILL worker host w1", 3, 3, _kill_worker, _start_worker),
    Fault("API host api1 link down", 3, 6, _api_link(False), _api_link(True)),
    Fault("volume host vol3 stopped", 3, 8, _stop_volume, _start_volume),
    Fault("PostgreSQL restarted", 3, 1, _stop_db, Deployment.start_db),
    Fault("S3 gateway restarted", 3, 1, _stop_s3, Deployment.start_s3),
    Fault("Redis paused", 3, 5, _pause_redis, _resume_redis),
)


def rolling_deploy(d: Deployment, before: float = 3.0) -> dict[str, Any]:
    """Every API and worker host restarted one by one as a deploy does it: drained on
    HAProxy, then SIGTERM (an API finishes its requests in flight; a worker finishes its jobs or
    hands their leases back), then started again; the client must see no error at all."""
    time.sleep(before)
    log.info("rolling deploy")
    start = time.time()
    # the two tiers side by side, each host by host
    workers = threading.Thread(target=_roll_workers, args=(d,))
    workers.start()
    for name in APIS:
        # drained on HAProxy's admin socket first: its idle connections to the host are no
        # longer reused (SIGTERM closing one under a request gave the client an error)
        d.haproxy(f"set server apis/{name} state drain")
        time.sleep(1.0)
        d.hosts[name].stop("api", timeout=60)
        d.start_api(name)
        d.haproxy(f"set server apis/{name} state ready")
        # back in HAProxy's rotation (rise 2 checks, 1 s apart) before the next goes
        time.sleep(2.5)
    workers.join()
    end = time.time()
    log.info("rolling deploy done in %.1fs", end - start)
    return {"name": "rolling deploy", "start": start, "end": end, "seconds": round(end - start, 1)}


def _roll_workers(d: Deployment) -> None:
    for name in WORKERS:
        d.hosts[name].stop("worker", timeout=60)
        d.start_worker(name)
