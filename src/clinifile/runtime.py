"""The long-lived parts one process shares: settings, database, one store per region."""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from clinifile.config import Settings
from clinifile.db.engine import READ_ONLY, make_engine, make_sessionmaker
from clinifile.errors import StorageError
from clinifile.scanning.clamd import Clamd
from clinifile.storage.base import ObjectStore
from clinifile.storage.s3 import S3Store, make_client

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    # sessions() for reads; transaction() for anything that writes
    sessions: sessionmaker[Session]
    writer_sessions: sessionmaker[Session]
    # the engine of reads outside the ORM (db.driver_reads: the presign path's)
    read_engine: Engine
    stores: dict[str, ObjectStore]
    secret: bytes
    # clamd, when scanning is on: the worker scans every upload with it before serving it
    scanner: Clamd | None = None
    # set when new work is enqueued, so an in-process worker wakes at once
    _work_available: threading.Event = field(default_factory=threading.Event)

    def store(self, region: str) -> ObjectStore:
        return self.stores[region]

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits at the end of the block, or rolls back on error."""
        with self.writer_sessions() as session, session.begin():
            yield session

    def work_enqueued(self) -> None:
        """Wakes this process's workers: new work was just committed (other processes
        learn of it by polling or PostgreSQL's NOTIFY)."""
        self._work_available.set()

    def wait_for_work(self, timeout: float) -> None:
        """Returns when work_enqueued is called, or after timeout seconds."""
        self._work_available.wait(timeout)
        self._work_available.clear()

    def close(self) -> None:
        self.engine.dispose()


def load_secret(settings: Settings) -> bytes:
    """The server secret: configured, or generated once and kept in the data directory."""
    if settings.secret_key:
        return settings.secret_key.encode()
    path = settings.data_dir / "secret.key"
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip().encode()


def make_scanner(settings: Settings) -> Clamd | None:
    """clamd at CLINIFILE_CLAMD_ADDRESS when CLINIFILE_SCAN is clamd; None when it is off or
    unset (serve and worker decide an unset one before they build the runtime)."""
    if settings.scan != "clamd":
        return None
    if not settings.clamd_address:
        raise ValueError(
            "CLINIFILE_SCAN=clamd needs CLINIFILE_CLAMD_ADDRESS (unix:/path or tcp:host:port) "
            "here; only `clinifile serve` runs a clamd of its own"
        )
    return Clamd(settings.clamd_address, timeout=settings.clamd_timeout_seconds)


def build_runtime(settings: Settings) -> Runtime:
    """Connects to the database and builds one S3 client per region (once)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url(), pool_size=settings.database_pool_size)
    stores: dict[str, ObjectStore] = {}
    for region in settings.regions:
        client = make_client(
            region.endpoint_url or settings.s3_endpoint_url,
            region.s3_region,
            region.access_key_id or settings.s3_access_key_id,
            region.secret_access_key or settings.s3_secret_access_key,
        )
        stores[region.name] = S3Store(client, region.bucket)
    return Runtime(
        scanner=make_scanner(settings),
        settings=settings,
        engine=engine,
        sessions=make_sessionmaker(engine, read_only=True),
        writer_sessions=make_sessionmaker(engine),
        read_engine=engine.execution_options(**{READ_ONLY: True}),
        stores=stores,
        secret=load_secret(settings),
    )


def ensure_buckets(runtime: Runtime, timeout: float = 30.0) -> None:
    """Creates each region's bucket and sets its CORS rules for browser uploads, retrying
    while a just-started store warms up."""
    deadline = time.monotonic() + timeout
    for name, store in runtime.stores.items():
        assert isinstance(store, S3Store)  # bucket set-up is S3's, not the storage interface's
        while True:
            try:
                store.ensure_bucket()
                if runtime.settings.bucket_cors_origins:
                    store.set_cors(runtime.settings.bucket_cors_origins)
                break
            except StorageError as error:
                if time.monotonic() > deadline:
                    raise
                log.debug("bucket of region %s not ready yet: %s", name, error)
                time.sleep(0.2)
