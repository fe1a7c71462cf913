"""A file the store would refuse is refused before a byte is sent, in the page's words:
the presigned post's policy says how large a file the store takes (content-length-range),
and clinifile's answer names its file size limit, so the refusal says which limit it is."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from clinifile.client import QuotaExceeded, RetryPolicy, ValidationFailed
from clinifile.client._uploads import UploadLimits, format_size
from clinifile.runtime import Runtime
from tests.client.flavours import Intercept
from tests.factories import make_tenant
from tests.live_server import LiveServer
from tests.objects import list_keys

FAST = RetryPolicy(attempts=6, base=0.1, cap=1.0)
MakeClient = Callable[..., Any]


def _counting_store() -> tuple[Intercept, list[str]]:
    """A storage transport that lets every request through and notes it."""
    sent: list[str] = []

    def note(request: httpx.Request) -> None:
        sent.append(f"{request.method} {request.url.path}")

    return Intercept(before=note), sent


def _sparse(tmp_path: Path, name: str, size: int) -> Path:
    path = tmp_path / name
    with open(path, "wb") as f:
        f.truncate(size)
    return path


def test_a_file_over_the_storage_left_is_refused_before_a_byte_is_sent(
    server: LiveServer, runtime: Runtime, tmp_path: Path, make_client: MakeClient
) -> None:
    trial = make_tenant(runtime, plan="trial", storage_limit_bytes=95 * 1024**2)
    store, sent = _counting_store()
    scan = _sparse(tmp_path, "scan.pdf", 300 * 1024**2)
    with (
        make_client(trial.key, server.url, retry=FAST, storage_transport=store) as client,
        pytest.raises(QuotaExceeded) as refused,
    ):
        client.upload(trial.patient_id, scan)
    message = (
        "scan.pdf is 300 MB, more than the 95 MB this account may still store "
        "(the storage limit of its plan)"
    )
    assert str(refused.value) == message
    assert refused.value.errors == {"base": message}
    assert sent == []
    assert list_keys(server.runtime.store("au1"), f"{trial.account_id}/") == []


@pytest.mark.parametrize("settings_overrides", [{"max_file_size_bytes": 150_000}])
def test_a_file_over_the_size_limit_is_refused_in_its_own_words(
    server: LiveServer, runtime: Runtime, tmp_path: Path, make_client: MakeClient
) -> None:
    # the trial's storage left (1 MB) is more than the file size limit: the size limit binds
    trial = make_tenant(runtime, plan="trial", storage_limit_bytes=1_000_000)
    store, sent = _counting_store()
    with make_client(trial.key, server.url, retry=FAST, storage_transport=store) as client:
        with pytest.raises(ValidationFailed) as refused:
            client.upload(trial.patient_id, _sparse(tmp_path, "big.pdf", 300_000))
        assert not isinstance(refused.value, QuotaExceeded)
        assert str(refused.value) == "big.pdf is 293 KB; one file may be at most 146 KB"
        assert sent == []
        # the limit is inclusive, as the store's content-length-range is
        record = client.upload(trial.patient_id, _sparse(tmp_path, "just.bin", 150_000))
        assert record["id"]
        assert len(sent) == 1


def test_without_clinifiles_file_size_limit_the_policy_is_the_size_limit() -> None:
    """Cliniko's presigned post names no max_file_size: the policy's range is the limit."""
    cliniko = UploadLimits(allowed=1000, max_file_size=None)
    refusal = cliniko.refusal("a.pdf", 2000)
    assert type(refusal) is ValidationFailed
    assert str(refusal) == "a.pdf is 2.0 KB; one file may be at most 1000 bytes"
    assert cliniko.refusal("a.pdf", 1000) is None
    assert UploadLimits.of({"url": "http://s3/", "fields": {"policy": "not base64!"}}) == (
        UploadLimits(allowed=None, max_file_size=None)
    )


def test_sizes_are_written_as_the_page_writes_them() -> None:
    # app.js formatSize: one decimal under 10, none from 10; toFixed rounds halves up
    assert format_size(950) == "950 bytes"
    assert format_size(1280) == "1.3 KB"
    assert format_size(10_752) == "11 KB"
    assert format_size(95 * 1024**2) == "95 MB"
    assert format_size(5 * 1024**3) == "5.0 GB"


def test_an_empty_file_is_refused_before_anything_is_asked_or_sent(
    server: LiveServer, runtime: Runtime, tmp_path: Path, make_client: MakeClient
) -> None:
    tenant = make_tenant(runtime)
    store, sent = _counting_store()
    api, asked = _counting_store()
    with (
        make_client(
            tenant.key, server.url, retry=FAST, transport=api, storage_transport=store
        ) as client,
        pytest.raises(ValidationFailed) as refused,
    ):
        client.upload(tenant.patient_id, _sparse(tmp_path, "blank.pdf", 0))
    assert str(refused.value) == "blank.pdf is empty (0 bytes): there is nothing to upload"
    assert refused.value.errors == {"file": str(refused.value)}
    assert not isinstance(refused.value, QuotaExceeded)
    assert sent == [] and asked == []


def test_one_byte_is_one_byte() -> None:
    assert [format_size(n) for n in (0, 1, 2)] == ["0 bytes", "1 byte", "2 bytes"]
