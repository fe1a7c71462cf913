"""The client's multipart uploads (issue 17), through Client and AsyncClient against a real
server and SeaweedFS: a file over the threshold goes in parts, a failed part is sent again
alone with the progress taken back, and an interrupted upload resumes from the parts the
store holds."""

from __future__ import annotations

import hashlib
import io
import os
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from clinifile.client import ClinifileError
from clinifile.client._rules import RetryPolicy
from tests.client.flavours import Intercept
from tests.factories import Tenant
from tests.live_server import LiveServer

MiB = 1024 * 1024
PART = 5 * MiB
FAST = RetryPolicy(attempts=4, base=0.05, cap=0.2)


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("CLINIFILE_CLIENT_CACHE_DIR", str(cache))
    return cache


def _file(tmp_path: Path, size: int) -> tuple[Path, str]:
    data = os.urandom(size)
    path = tmp_path / "gait.mp4"
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


def _part_number(request: httpx.Request) -> int | None:
    number = request.url.params.get("partNumber")
    return int(number) if request.method == "PUT" and number else None


def _counting(puts: Counter[int], fail: int | None = None) -> Intercept:
    """A real transport to the store that counts part PUTs, and cuts the link (a
    connection error) on every PUT of part `fail`."""

    def before(request: httpx.Request) -> httpx.Response | None:
        number = _part_number(request)
        if number is not None:
            puts[number] += 1
            if number == fail:
                raise httpx.ConnectError("the link is down", request=request)
        return None

    return Intercept(before)


NO_RETRY = RetryPolicy(attempts=1, base=0.0, cap=0.0)


def _downloaded(client: Any, record: dict[str, Any]) -> str:
    out = io.BytesIO()
    client.download(record["id"], out)
    return hashlib.sha256(out.getvalue()).hexdigest()


def test_a_large_file_goes_in_parts_and_a_failed_part_is_sent_again_alone(
    make_client: Any, server: LiveServer, tenant: Tenant, tmp_path: Path
) -> None:
    path, digest = _file(tmp_path, 2 * PART + 123)
    puts: Counter[int] = Counter()
    posts: list[str] = []

    def before(request: httpx.Request) -> httpx.Response | None:
        number = _part_number(request)
        if number is not None:
            puts[number] += 1
            if number == 2 and puts[number] == 1:
                raise httpx.ConnectError("the clinic's Wi-Fi dropped", request=request)
        elif request.method == "POST":
            posts.append(request.url.path)
        return None

    progress: list[int] = []
    lock = threading.Lock()

    def count(n: int) -> None:
        with lock:
            progress.append(n)

    store = Intercept(before)
    with make_client(tenant.key, server.url, retry=FAST, storage_transport=store) as client:
        record = client.upload(
            tenant.patient_id, path, wait=True, progress=count, multipart_threshold=PART
        )
        assert record["processing_completed"] is True and record["size"] == 2 * PART + 123
        assert _downloaded(client, record) == digest
    assert puts == {1: 1, 2: 2, 3: 1}
    assert not any(p.endswith("attachment_presigned_post") for p in posts)
    assert sum(progress) == 2 * PART + 123  # the failed attempt's bytes were taken back


def test_a_file_at_the_threshold_goes_in_one_post(
    make_client: Any, server: LiveServer, tenant: Tenant, tmp_path: Path
) -> None:
    path, _ = _file(tmp_path, PART)
    seen: list[str] = []
    store = Intercept(lambda request: seen.append(request.method) or None)
    with make_client(tenant.key, server.url, storage_transport=store) as client:
        client.upload(tenant.patient_id, path, multipart_threshold=PART)
    assert seen == ["POST"]


def test_an_interrupted_upload_resumes_from_the_parts_the_store_holds(
    make_client: Any, server: LiveServer, tenant: Tenant, tmp_path: Path, _own_cache: Path
) -> None:
    path, digest = _file(tmp_path, 3 * PART)
    before: Counter[int] = Counter()
    cut = _counting(before, fail=3)
    with (
        make_client(tenant.key, server.url, retry=NO_RETRY, storage_transport=cut) as client,
        pytest.raises(ClinifileError),
    ):
        client.upload(tenant.patient_id, path, multipart_threshold=PART, parallel_parts=1)
    assert before == {1: 1, 2: 1, 3: 1}
    assert len(list(_own_cache.glob("uploads/*.json"))) == 1

    after: Counter[int] = Counter()
    with make_client(tenant.key, server.url, storage_transport=_counting(after)) as client:
        record = client.upload(
            tenant.patient_id, path, wait=True, multipart_threshold=PART, resume=True
        )
        assert _downloaded(client, record) == digest
    assert after == {3: 1}  # parts 1 and 2 were not sent again
    assert list(_own_cache.glob("uploads/*.json")) == []  # registered: nothing to resume


def test_without_resume_a_new_upload_starts(
    make_client: Any, server: LiveServer, tenant: Tenant, tmp_path: Path
) -> None:
    path, digest = _file(tmp_path, 2 * PART)
    cut = _counting(Counter(), fail=2)
    with (
        make_client(tenant.key, server.url, retry=NO_RETRY, storage_transport=cut) as client,
        pytest.raises(ClinifileError),
    ):
        client.upload(tenant.patient_id, path, multipart_threshold=PART, parallel_parts=1)
    after: Counter[int] = Counter()
    with make_client(tenant.key, server.url, storage_transport=_counting(after)) as client:
        record = client.upload(tenant.patient_id, path, wait=True, multipart_threshold=PART)
        assert _downloaded(client, record) == digest
    assert after == {1: 1, 2: 1}
