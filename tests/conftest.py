"""Shared fixtures: one real SeaweedFS per test session, a fresh database and fresh buckets
per test, so tests are independent and safe under `pytest -n auto`."""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from clinifile.api.app import create_app
from clinifile.config import Region, Settings
from clinifile.db.migrate import upgrade
from clinifile.runtime import Runtime, build_runtime, ensure_buckets
from clinifile.storage.seaweed import EmbeddedSeaweed
from tests import log_scan
from tests.clamav import ClamdService, require_clamav, running_clamd, signature_database
from tests.factories import Api, Tenant, make_tenant
from tests.services import missing_service


def pytest_configure(config: pytest.Config) -> None:
    log_scan.capture_this_process()


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The controller (or a run without xdist) scans every log line of the run."""
    if hasattr(session.config, "workerinput"):
        return
    report = log_scan.scan(log_scan.log_dir())
    session.config.stash[LOG_REPORT] = report
    if report.findings:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    report = config.stash.get(LOG_REPORT, None)
    if report is None:
        return
    terminalreporter.write_line(
        f"log scan: {report.lines} log lines from {report.files} processes, "
        f"{len(report.findings)} with a key, signature or credential "
        f"(logs in {log_scan.log_dir()})"
    )
    for finding in report.findings[:50]:
        terminalreporter.write_line(f"  SECRET IN LOG: {finding}", red=True)


LOG_REPORT = pytest.StashKey[log_scan.ScanReport]()


@pytest.fixture(autouse=True)
def _log_everything() -> None:
    """A command run in-process may have raised the log level; every test logs at DEBUG."""
    log_scan.everything_at_debug()


@pytest.fixture(autouse=True)
def _forget_finished_apps() -> Iterator[None]:
    """FastAPI remembers every endpoint it classified in lru_caches of 4,096 entries, and
    fastapi_offline's docs endpoints are closures over their app, so each test's app (and
    through app.state its runtime: engine, S3 clients, ~25 MB) stayed alive: the suite grew
    past 10 GB a worker. A server process builds one app; a test process builds hundreds."""
    yield
    from fastapi.dependencies import models

    for name in dir(models):
        cache_clear = getattr(getattr(models, name), "cache_clear", None)
        if name.endswith("_cached") and cache_clear is not None:
            cache_clear()


@pytest.fixture(scope="session")
def weed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedSeaweed]:
    store = EmbeddedSeaweed(tmp_path_factory.mktemp("seaweedfs"))
    store.start()
    assert store.credentials is not None
    log_scan.remember_secret(store.credentials.secret_access_key)
    yield store
    store.stop()


@pytest.fixture(scope="session")
def clamd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClamdService]:
    """One real clamd per test process, on a tiny signature database (tests/clamav.py); it
    starts in about a second. Tests that stop or slow clamd start their own."""
    require_clamav()
    root = tmp_path_factory.mktemp("clamd")
    with running_clamd(root / "run", signature_database(root / "signatures")) as service:
        yield service


# one pair of buckets per test session: SeaweedFS gives every bucket its own volumes, so a
# bucket per test would exhaust them; tests are kept apart by unique account ids instead
SESSION_BUCKETS = f"t{uuid.uuid4().hex[:12]}"


def make_settings(weed: EmbeddedSeaweed, data_dir: Path, **overrides: object) -> Settings:
    assert weed.credentials is not None
    suffix = SESSION_BUCKETS
    values: dict[str, object] = {
        "data_dir": data_dir,
        "s3_endpoint_url": weed.endpoint_url,
        "s3_access_key_id": weed.credentials.access_key_id,
        "s3_secret_access_key": weed.credentials.secret_access_key,
        "regions": [
            Region(name="au1", bucket=f"t{suffix}-au1", s3_region="ap-southeast-2"),
            Region(name="uk1", bucket=f"t{suffix}-uk1", s3_region="eu-west-2"),
        ],
        "worker_backoff_base_seconds": 0.0,
        "secret_key": uuid.uuid4().hex,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


POSTGRES_URL = os.environ.get(
    "CLINIFILE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """A migrated template database; each test gets a copy of it (CREATE DATABASE ...
    TEMPLATE), so tests on PostgreSQL are as independent as tests on SQLite."""
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(POSTGRES_URL)
    try:
        conn = psycopg.connect(
            host=admin.host,
            port=admin.port,
            user=admin.username,
            dbname=admin.database,
            autocommit=True,
            connect_timeout=3,
        )
    except psycopg.OperationalError as error:
        missing_service(f"PostgreSQL is not reachable at {admin.host}:{admin.port}: {error}")
    template = f"clinifile_tmpl_{uuid.uuid4().hex[:12]}"
    conn.execute(f'CREATE DATABASE "{template}"')
    upgrade(admin.set(database=template).render_as_string(hide_password=False))
    yield template
    conn.execute(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
    conn.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Every test that uses the runtime runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'clinifile.db'}"
        return
    import psycopg
    from sqlalchemy.engine import make_url

    template = request.getfixturevalue("postgres_template")
    admin = make_url(POSTGRES_URL)
    name = f"clinifile_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(
        host=admin.host,
        port=admin.port,
        user=admin.username,
        dbname=admin.database,
        autocommit=True,
    ) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        yield admin.set(database=name).render_as_string(hide_password=False)
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    """Override in a test module to change settings for its runtime."""
    return {}


@pytest.fixture
def runtime(
    weed: EmbeddedSeaweed,
    tmp_path: Path,
    database_url: str,
    settings_overrides: dict[str, object],
) -> Iterator[Runtime]:
    settings = make_settings(
        weed, tmp_path / "data", database_url=database_url, **settings_overrides
    )
    settings.data_dir.mkdir(parents=True)
    upgrade(settings.resolved_database_url())
    rt = build_runtime(settings)
    _start_account_ids_at_random(rt)
    ensure_buckets(rt)
    yield rt
    rt.close()


def _start_account_ids_at_random(runtime: Runtime) -> None:
    """Object keys start with the account id: unique ids keep tests that share the session's
    buckets apart (and parallel-safe)."""
    start = secrets.randbelow(2**40) + 1000
    with runtime.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.execute(
                text("INSERT INTO sqlite_sequence (name, seq) VALUES ('accounts', :n)"),
                {"n": start},
            )
        else:
            conn.execute(text("SELECT setval('accounts_id_seq', :n)"), {"n": start})


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime), headers={"User-Agent": "clinifile tests"}) as tc:
        yield tc


@pytest.fixture
def api(client: TestClient, runtime: Runtime) -> Api:
    return Api(client, runtime)


@pytest.fixture
def tenant(runtime: Runtime) -> Tenant:
    return make_tenant(runtime)


@pytest.fixture
def other_tenant(runtime: Runtime) -> Tenant:
    return make_tenant(runtime, name="Other clinic")
