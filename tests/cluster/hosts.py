"""The deployment: each host's commands, as docs/OPERATIONS.md ("Many machines") shows them.

Every clinifile process is configured only through documented CLINIFILE_* settings.
"""

from __future__ import annotations

import json
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from clinifile.config import Settings
from tests.cluster.netns import SUBNET, Host, make_network

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_PORT = 5433
REDIS_PORT = 6380
API_PORT = 8000
METRICS_PORT = 9108
S3_PORT = 8333

ADDRESSES = {
    "db": 10,
    "redis": 11,
    "master": 20,
    "vol1": 21,
    "vol2": 22,
    "vol3": 23,
    "filer": 24,
    "s3": 25,
    "lb": 40,
    "api1": 41,
    "api2": 42,
    "w1": 51,
    "w2": 52,
    "w3": 53,
    "client": 60,
}
APIS = ("api1", "api2")
WORKERS = ("w1", "w2", "w3")
VOLUMES = ("vol1", "vol2", "vol3")


@dataclass
class Deployment:
    root: Path
    hosts: dict[str, Host]
    env: dict[str, str]
    weed: str
    clinifile: str

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def address(self, name: str) -> str:
        return self.hosts[name].address

    @property
    def database_url(self) -> str:
        return f"postgresql+psycopg://postgres@{self.address('db')}:{PG_PORT}/clinifile"

    @property
    def base_url(self) -> str:
        return f"http://{self.address('lb')}"

    # --- db --------------------------------------------------------------------------

    def start_db(self) -> None:
        data = self.root / "pgdata"
        if not data.exists():
            data.mkdir(parents=True)
            shutil.chown(data, "postgres", "postgres")
            _as_postgres(str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust")
            # the other hosts connect over the bridge (a test network: trust, no password)
            with (data / "pg_hba.conf").open("a") as hba:
                hba.write(f"host all all {SUBNET}.0/24 trust\n")
        run = self.root / "pgrun"
        run.mkdir(exist_ok=True)
        shutil.chown(run, "postgres", "postgres")
        self.hosts["db"].spawn(
            "postgres",
            [
                "setpriv",
                "--reuid=postgres",
                "--regid=postgres",
                "--init-groups",
                str(PG_BIN / "postgres"),
                "-D",
                str(data),
                "-p",
                str(PG_PORT),
                "-c",
                f"listen_addresses={self.address('db')}",
                "-c",
                f"unix_socket_directories={run}",
                "-c",
                "max_connections=300",
                "-c",
                "fsync=off",
            ],
            self.logs,
        )
        wait_until(
            "PostgreSQL",
            lambda: (
                self.hosts["db"]
                .exec(
                    str(PG_BIN / "pg_isready"),
                    "-h",
                    self.address("db"),
                    "-p",
                    str(PG_PORT),
                    check=False,
                )
                .returncode
                == 0
            ),
        )

    def create_database(self) -> None:
        self.hosts["db"].exec(
            str(PG_BIN / "createdb"),
            "-h",
            self.address("db"),
            "-p",
            str(PG_PORT),
            "-U",
            "postgres",
            "clinifile",
        )

    def stop_db(self) -> None:
        """pg_ctl stop -m fast: SIGINT (SIGTERM would wait for every client to leave)."""
        self.hosts["db"].signal("postgres", signal.SIGINT)
        self.hosts["db"].processes["postgres"].wait(30)

    # --- redis -----------------------------------------------------------------------

    def start_redis(self) -> None:
        self.hosts["redis"].spawn(
            "redis",
            [
                "redis-server",
                "--bind",
                self.address("redis"),
                "--port",
                str(REDIS_PORT),
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "no",
            ],
            self.logs,
        )

    # --- SeaweedFS -------------------------------------------------------------------

    def start_store(self, access_key: str, secret_key: str) -> None:
        master = f"{self.address('master')}:9333"
        self._weed(
            "master",
            "master",
            f"-mdir={self.root / 'master'}",
            "-volumeSizeLimitMB=64",
            "-defaultReplication=001",
            "-telemetry=false",
        )
        wait_until("the weed master", lambda: _http_ok(f"http://{master}/cluster/status"))
        for name in VOLUMES:
            self.start_volume(name)
        filer = self.address("filer")
        self._weed(
            "filer",
            "filer",
            f"-defaultStoreDir={self.root / 'filer'}",
            f"-master={master}",
            "-defaultReplicaPlacement=001",
        )
        identities = self.root / "s3-identities.json"
        identities.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "clinifile",
                            "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                        }
                    ]
                }
            )
        )
        identities.chmod(0o600)
        self.s3_args = [
            f"-filer={filer}:8888",
            f"-config={identities}",
            f"-port={S3_PORT}",
            "-port.iceberg=0",
            "-port.lance=0",
        ]
        self.start_s3()
        wait_until("three volume servers", lambda: self.volumes_joined() == 3)

    def start_volume(self, name: str) -> None:
        master = f"{self.address('master')}:9333"
        self._weed(
            name,
            "volume",
            f"-dir={self.root / name}",
            "-max=30",
            f"-master={master}",
            "-preStopSeconds=0",
        )

    def start_s3(self) -> None:
        self._weed("s3", "s3", *self.s3_args)
        wait_until(
            "the S3 gateway", lambda: _http_answers(f"http://{self.address('s3')}:{S3_PORT}/")
        )

    def volumes_joined(self) -> int:
        try:
            status = httpx.get(f"http://{self.address('master')}:9333/dir/status", timeout=2).json()
        except (httpx.HTTPError, ValueError):
            return 0
        return len(
            [
                node
                for dc in status.get("Topology", {}).get("DataCenters") or []
                for rack in dc.get("Racks") or []
                for node in rack.get("DataNodes") or []
            ]
        )

    def _weed(self, host: str, command: str, *flags: str) -> None:
        (self.root / host).mkdir(exist_ok=True)
        address = self.address(host)
        self.hosts[host].spawn(
            command if host != command else host,
            [self.weed, command, f"-ip={address}", "-ip.bind=0.0.0.0", *flags],
            self.logs,
        )

    # --- clinifile -------------------------------------------------------------------

    def clinifile_env(self, host: str) -> dict[str, str]:
        data = self.root / host
        data.mkdir(exist_ok=True)
        return {
            **self.env,
            "CLINIFILE_DATA_DIR": str(data),
            "CLINIFILE_METRICS_HOST": self.address(host),
        }

    def start_api(self, name: str) -> None:
        self.hosts[name].spawn(
            "api",
            [
                self.clinifile,
                "serve",
                "--no-worker",
                "--no-storage",
                "--host",
                self.address(name),
                "--port",
                str(API_PORT),
                "--forwarded-allow-ips",
                self.address("lb"),
            ],
            self.logs,
            self.clinifile_env(name),
        )
        url = f"http://{self.address(name)}:{API_PORT}/readyz"
        wait_until(f"{name} ready", lambda: _http_ok(url), timeout=90)

    def start_worker(self, name: str, wait: bool = True) -> None:
        env = {**self.clinifile_env(name), "CLINIFILE_METRICS_PORT": str(METRICS_PORT)}
        self.hosts[name].spawn(
            "worker", [self.clinifile, "worker", "--concurrency", "4"], self.logs, env
        )
        if wait:
            self.wait_worker(name)

    def wait_worker(self, name: str) -> None:
        url = f"http://{self.address(name)}:{METRICS_PORT}/metrics"
        wait_until(f"{name}'s metrics", lambda: _http_ok(url), timeout=90)

    def start_lb(self) -> None:
        config = self.root / "haproxy.cfg"
        servers = "\n".join(
            f"    server {n} {self.address(n)}:{API_PORT} check inter 1s fall 2 rise 2"
            for n in APIS
        )
        config.write_text(
            HAPROXY.format(address=self.address("lb"), servers=servers, socket=self.lb_socket)
        )
        self.hosts["lb"].spawn("haproxy", ["haproxy", "-db", "-f", str(config)], self.logs)
        wait_until("the load balancer", lambda: _http_ok(f"{self.base_url}/readyz"))

    @property
    def lb_socket(self) -> Path:
        return self.root / "haproxy.sock"

    def haproxy(self, command: str) -> str:
        """One command on HAProxy's admin socket (`set server apis/api2 state drain`, ...)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(5)
            conn.connect(str(self.lb_socket))
            conn.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := conn.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def lb_servers(self) -> dict[str, dict[str, str]]:
        """HAProxy's `show stat` for the API servers: {name: {"status": "UP", "scur": ...}}."""
        lines = self.haproxy("show stat").lstrip("# ").splitlines()
        header = lines[0].split(",")
        rows = [dict(zip(header, line.split(","), strict=False)) for line in lines[1:] if line]
        return {r["svname"]: r for r in rows if r["pxname"] == "apis" and r["svname"] in APIS}

    def settings(self) -> Settings:
        """The settings every host has, for the harness's own admin steps and checks."""
        values = {k.removeprefix("CLINIFILE_").lower(): v for k, v in self.env.items()}
        return Settings(**values, data_dir=self.root / "admin")

    def cli(self, *args: str) -> str:
        """A `clinifile` command, as an operator runs it on any host with the settings."""
        answer = subprocess.run(
            ["ip", "netns", "exec", self.hosts["client"].netns, self.clinifile, *args],
            check=True,
            capture_output=True,
            text=True,
            env={**self.env, "CLINIFILE_DATA_DIR": str(self.root / "admin")},
        )
        return answer.stdout.strip()


HAPROXY = """global
    maxconn 2000
    # the harness's admin socket (drain a server, read its sessions), as an operator uses it
    stats socket {socket} mode 600 level admin
defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    option redispatch
    retries 2
frontend api
    bind {address}:80
    # each process's /metrics is scraped on its own address, never through here
    http-request deny if {{ path_beg /metrics }}
    default_backend apis
backend apis
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
{servers}
"""


def _as_postgres(*args: str) -> None:
    subprocess.run(
        ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", *args],
        check=True,
        capture_output=True,
    )


def _http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _http_answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=2)
    except httpx.HTTPError:
        return False
    return True


def wait_until(what: str, ready: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.2)


def deploy(root: Path, weed: str, clinifile: str) -> Deployment:
    """Every host started, in order: db, redis, the store, migrations, APIs, LB, workers."""
    (root / "logs").mkdir(parents=True, exist_ok=True)
    hosts = make_network(ADDRESSES)
    access_key = "CF" + secrets.token_hex(9).upper()
    secret_key = secrets.token_urlsafe(30)
    deployment = Deployment(root, hosts, {}, weed, clinifile)
    deployment.env = {
        "CLINIFILE_DATABASE_URL": deployment.database_url,
        "CLINIFILE_DATABASE_POOL_SIZE": "8",
        "CLINIFILE_SECRET_KEY": secrets.token_urlsafe(32),
        "CLINIFILE_S3_ENDPOINT_URL": f"http://{deployment.address('s3')}:{S3_PORT}",
        "CLINIFILE_S3_ACCESS_KEY_ID": access_key,
        "CLINIFILE_S3_SECRET_ACCESS_KEY": secret_key,
        "CLINIFILE_RATE_LIMIT_STORAGE": f"redis://{deployment.address('redis')}:{REDIS_PORT}",
        "CLINIFILE_RATE_LIMIT_PER_MINUTE": "100000",
        "CLINIFILE_SCAN": "off",
        "CLINIFILE_PREVIEW_ENABLED": "false",
        "CLINIFILE_WORKER_BACKOFF_BASE_SECONDS": "1",
        "CLINIFILE_WORKER_MAX_ATTEMPTS": "12",
        "CLINIFILE_WORKER_MISSING_OBJECT_ATTEMPTS": "12",
        "CLINIFILE_WORKER_LEASE_SECONDS": "20",
        "CLINIFILE_SWEEP_INTERVAL_SECONDS": "20",
    }
    deployment.start_db()
    deployment.create_database()
    deployment.start_redis()
    deployment.start_store(access_key, secret_key)
    deployment.cli("migrate")
    for name in APIS:
        deployment.start_api(name)
    deployment.start_lb()
    for name in WORKERS:
        deployment.start_worker(name, wait=False)
    for name in WORKERS:
        deployment.wait_worker(name)
    return deployment
