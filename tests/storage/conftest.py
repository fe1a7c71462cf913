"""Every test in tests/storage/ takes `store` (or `backend`) and runs once per backend:
- embedded: the `weed mini` every test session starts (tests/conftest.py);
- cluster: a SeaweedFS cluster of separate processes (tests/storage/cluster.py), started
  once per test process;
- external: any S3 endpoint named by CLINIFILE_TEST_S3_* (skipped when unset).
Each test works under a key prefix of its own and removes what it made there, so tests can
share a bucket and run in parallel.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from clinifile.storage.s3 import S3Store, make_client
from clinifile.storage.seaweed import EmbeddedSeaweed, free_port
from tests import log_scan
from tests.objects import list_keys
from tests.storage import backends
from tests.storage.backends import Backend
from tests.storage.cluster import SeaweedCluster


@pytest.fixture(scope="session")
def embedded_backend(weed: EmbeddedSeaweed) -> Backend:
    assert weed.credentials is not None
    return backends.seaweed(
        "embedded",
        weed.endpoint_url,
        weed.credentials.access_key_id,
        weed.credentials.secret_access_key,
    )


@pytest.fixture(scope="session")
def cluster_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    cluster = SeaweedCluster(tmp_path_factory.mktemp("seaweed-cluster"))
    log_scan.remember_secret(cluster.credentials.secret_access_key)
    cluster.start()
    yield backends.seaweed(
        "cluster",
        cluster.endpoint_url,
        cluster.credentials.access_key_id,
        cluster.credentials.secret_access_key,
    )
    cluster.stop()


@pytest.fixture(scope="session")
def external_backend() -> Backend:
    return backends.external()


@pytest.fixture(scope="session", params=["embedded", "cluster", "external"])
def backend(request: pytest.FixtureRequest) -> Backend:
    backend: Backend = request.getfixturevalue(f"{request.param}_backend")
    return backend


@pytest.fixture
def store(backend: Backend) -> S3Store:
    return backend.store()


def scratch_prefix(backend: Backend) -> Iterator[str]:
    """A key prefix of one test's own in backend's bucket; every object under it is
    removed afterwards."""
    mine = f"clinifile-contract/{uuid.uuid4().hex}/"
    yield mine
    store = backend.store()
    store.delete_many(o.key for o in list_keys(store, mine))


@pytest.fixture
def prefix(backend: Backend) -> Iterator[str]:
    """A key prefix of this test's own; every object under it is removed afterwards."""
    yield from scratch_prefix(backend)


@pytest.fixture
def unreachable() -> S3Store:
    """A store whose endpoint nothing listens on."""
    client = make_client(f"http://127.0.0.1:{free_port()}", "us-east-1", "CFNOBODY", "nothing")
    return S3Store(client, "nowhere")
