"""Rate limits, proxies, oversize bodies and the headers every answer carries."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from clinifile.api.app import create_app
from clinifile.runtime import Runtime, build_runtime
from tests.factories import Tenant
from tests.services import missing_service

REDIS_URL = os.environ.get("CLINIFILE_TEST_REDIS_URL", "redis://127.0.0.1:6379")


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"rate_limit_per_minute": 5, "forwarded_allow_ips": "testclient"}


def test_the_request_over_the_limit_is_429_with_reset_headers(
    client: TestClient, tenant: Tenant
) -> None:
    for _ in range(5):
        assert client.get("/v1/patients", auth=tenant.auth).status_code == 200
    refused = client.get("/v1/patients", auth=tenant.auth)
    assert refused.status_code == 429
    reset = int(refused.headers["x-ratelimit-reset"])
    assert time.time() < reset <= time.time() + 61
    assert 1 <= int(refused.headers["retry-after"]) <= 61
    assert "5 requests a minute" in refused.json()["message"]


def test_limits_are_per_key(client: TestClient, tenant: Tenant, other_tenant: Tenant) -> None:
    for _ in range(6):
        client.get("/v1/patients", auth=tenant.auth)
    assert client.get("/v1/patients", auth=other_tenant.auth).status_code == 200


@pytest.fixture
def redis_url() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        missing_service(f"Redis is not reachable at {REDIS_URL}: {error}")
    return REDIS_URL


@pytest.fixture
def two_api_processes(runtime: Runtime, redis_url: str) -> Iterator[tuple[TestClient, TestClient]]:
    """Two API apps, each with its own runtime and limiter, sharing one Redis."""
    shared = {
        "rate_limit_storage": redis_url,
        "rate_limit_key_prefix": f"clinifile-test-{uuid.uuid4().hex}",
    }
    first = build_runtime(runtime.settings.model_copy(update=shared))
    second = build_runtime(runtime.settings.model_copy(update=shared))
    ua = {"User-Agent": "tests"}
    with (
        TestClient(create_app(first), headers=ua) as a,
        TestClient(create_app(second), headers=ua) as b,
    ):
        yield a, b
    first.close()
    second.close()


def test_redis_shares_the_count_across_api_processes(
    two_api_processes: tuple[TestClient, TestClient], tenant: Tenant
) -> None:
    a, b = two_api_processes
    statuses = [
        (a if i % 2 else b).get("/v1/patients", auth=tenant.auth).status_code for i in range(6)
    ]
    assert statuses == [200] * 5 + [429]


def test_forwarded_proto_and_host_from_a_trusted_proxy_shape_links(
    client: TestClient, tenant: Tenant
) -> None:
    response = client.get(
        f"/v1/patients/{tenant.patient_id}",
        auth=tenant.auth,
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "files.example.com"},
    )
    assert response.json()["links"]["self"] == (
        f"https://files.example.com/v1/patients/{tenant.patient_id}"
    )


def test_forwarded_headers_from_an_untrusted_client_are_ignored(
    runtime: Runtime, tenant: Tenant
) -> None:
    settings = runtime.settings.model_copy(update={"forwarded_allow_ips": "10.9.9.9"})
    rt = build_runtime(settings)
    with TestClient(create_app(rt), headers={"User-Agent": "t"}) as plain:
        response = plain.get(
            f"/v1/patients/{tenant.patient_id}",
            auth=tenant.auth,
            headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"},
        )
    rt.close()
    assert response.json()["links"]["self"].startswith("http://testserver/")


def test_a_hostile_forwarded_host_is_ignored(client: TestClient, tenant: Tenant) -> None:
    response = client.get(
        f"/v1/patients/{tenant.patient_id}",
        auth=tenant.auth,
        headers={"X-Forwarded-Host": "evil.example/<script>"},
    )
    assert response.json()["links"]["self"].startswith("http://testserver/")


def test_oversize_bodies_are_413_json(client: TestClient, tenant: Tenant) -> None:
    big = b'{"description": "' + b"x" * 100_000 + b'"}'
    response = client.post(
        "/v1/patient_attachments",
        content=big,
        headers={"Content-Type": "application/json"},
        auth=tenant.auth,
    )
    assert response.status_code == 413
    assert "at most" in response.json()["message"]


def test_chunked_oversize_bodies_are_413_json(client: TestClient, tenant: Tenant) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b"x" * 1000

    response = client.post(
        "/v1/patient_attachments",
        content=chunks(),
        headers={"Content-Type": "application/json"},
        auth=tenant.auth,
    )
    assert response.status_code == 413


def test_every_answer_is_nosniff_and_no_store(client: TestClient, tenant: Tenant) -> None:
    for response in (
        client.get("/v1/patients", auth=tenant.auth),
        client.get("/v1/patients"),
        client.get("/v1/nowhere", auth=tenant.auth),
    ):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["content-type"] == "application/json"
