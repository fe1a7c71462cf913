"""A SeaweedFS cluster the way an operator runs one at scale: a master, two volume servers,
a filer and an S3 gateway, each its own `weed` process on loopback, with enforced S3
credentials. The contract suite runs against it as well as against `weed mini`.
"""

from __future__ import annotations

import json
import logging
import secrets
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from botocore.exceptions import BotoCoreError, ClientError

from clinifile.storage.s3 import make_client
from clinifile.storage.seaweed import (
    S3Credentials,
    find_weed_binary,
    free_port,
    spawn_weed,
    stop_weed,
)

log = logging.getLogger(__name__)

VOLUME_SERVERS = 2


class SeaweedCluster:
    """`weed master`, `weed volume` (VOLUME_SERVERS of them), `weed filer`, `weed s3`."""

    def __init__(self, root: Path, *, binary: str | None = None) -> None:
        self.root = root.resolve()
        self.binary = find_weed_binary(binary)
        self.credentials = S3Credentials(
            access_key_id="CF" + secrets.token_hex(9).upper(),
            secret_access_key=secrets.token_urlsafe(30),
        )
        # every process gets an HTTP and a gRPC port of its own (weed's default gRPC port,
        # HTTP + 10000, could collide with another test session's)
        self.ports = {
            name: (free_port(), free_port())
            for name in ("master", *self._volume_names(), "filer", "s3")
        }
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self._client = make_client(
            self.endpoint_url,
            "us-east-1",
            self.credentials.access_key_id,
            self.credentials.secret_access_key,
        )

    @staticmethod
    def _volume_names() -> list[str]:
        return [f"volume{n}" for n in range(1, VOLUME_SERVERS + 1)]

    def _address(self, name: str) -> str:
        """weed's address of a server: host:port.grpcPort."""
        http, grpc = self.ports[name]
        return f"127.0.0.1:{http}.{grpc}"

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3'][0]}"

    def start(self, timeout: float = 60.0) -> None:
        """Starts every process in order and returns once a signed S3 request succeeds and
        every volume server has joined; stops them all on failure."""
        self.root.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + timeout
        try:
            # every bucket grows volumes of its own: small ones, never preallocated, and room
            # for a few buckets' worth on each volume server
            self._spawn("master", "-mdir=master", "-volumeSizeLimitMB=64", "-telemetry=false")
            # a volume server that finds no leader retries its heartbeat only 5 s later
            self._wait(deadline, "the master to lead", self._master_leads)
            for name in self._volume_names():
                self._spawn(
                    name,
                    f"-dir={name}",
                    "-max=16",
                    "-preStopSeconds=0",
                    f"-master={self._address('master')}",
                )
            self._spawn(
                "filer",
                "-defaultStoreDir=filer",
                f"-localSocket={self.root / 'filer.sock'}",
                f"-master={self._address('master')}",
            )
            self._spawn(
                "s3",
                f"-config={self._write_identities()}",
                f"-filer={self._address('filer')}",
                f"-localSocket={self.root / 's3.sock'}",
                "-port.iceberg=0",
                "-port.lance=0",
            )
            self._wait(deadline, "the volume servers to join", self._volumes_joined)
            self._wait(deadline, "a signed S3 request to succeed", self._s3_answers)
        except BaseException:
            self.stop()
            raise
        log.info("SeaweedFS cluster ready, S3 on %s", self.endpoint_url)

    def _spawn(self, name: str, *flags: str) -> None:
        """Starts `weed <command>` for the server name ("volume2" runs `weed volume`), with
        its own directory and log under root."""
        command = "volume" if name.startswith("volume") else name
        http, grpc = self.ports[name]
        (self.root / name).mkdir(exist_ok=True)
        args = [
            self.binary,
            command,
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-port={http}",
            f"-port.grpc={grpc}",
            *flags,
        ]
        # SIGKILL if the tests die: a filer whose master is gone ignores SIGTERM for good
        self.processes[name] = spawn_weed(
            args, self.root, self.root / f"{name}.log", death_signal=signal.SIGKILL
        )

    def _write_identities(self) -> Path:
        path = self.root / "s3-identities.json"
        identity = {
            "name": "clinifile",
            "credentials": [
                {
                    "accessKey": self.credentials.access_key_id,
                    "secretKey": self.credentials.secret_access_key,
                }
            ],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        path.write_text(json.dumps({"identities": [identity]}))
        path.chmod(0o600)
        return path

    def _wait(self, deadline: float, what: str, ready: Callable[[], bool]) -> None:
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(
                        f"weed {name} exited with {process.returncode} while waiting for "
                        f"{what}; see {self.root / name}.log"
                    )
            if ready():
                return
            time.sleep(0.1)
        raise RuntimeError(f"SeaweedFS cluster: timed out waiting for {what}; logs in {self.root}")

    def _master_status(self, path: str) -> dict[str, Any]:
        try:
            answer = httpx.get(f"http://127.0.0.1:{self.ports['master'][0]}{path}", timeout=1.0)
            return dict(answer.json())
        except (httpx.HTTPError, ValueError):
            return {}

    def _master_leads(self) -> bool:
        return self._master_status("/cluster/status").get("IsLeader") is True

    def _volumes_joined(self) -> bool:
        status = self._master_status("/dir/status")
        nodes = [
            node
            for dc in status.get("Topology", {}).get("DataCenters") or []
            for rack in dc.get("Racks") or []
            for node in rack.get("DataNodes") or []
        ]
        return len(nodes) == VOLUME_SERVERS

    def _s3_answers(self) -> bool:
        try:
            self._client.list_buckets()
        except (BotoCoreError, ClientError):
            return False
        return True

    def stop(self, timeout: float = 3.0) -> None:
        """Stops the processes in the reverse order of their start, each SIGKILLed after
        timeout seconds: the filer's graceful stop waits 15 s on its own metadata stream,
        and once its master is gone it never ends."""
        for name in reversed(list(self.processes)):
            started = time.monotonic()
            stop_weed(self.processes[name], timeout)
            log.debug("weed %s stopped in %.1fs", name, time.monotonic() - started)
        self.processes.clear()
        log.info("stopped the SeaweedFS cluster")
