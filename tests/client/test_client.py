"""The Python client against a running clinifile with the real SeaweedFS."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from clinifile.client import (
    AuthenticationFailed,
    Client,
    InvalidUpload,
    NotFound,
    QuotaExceeded,
    RetryPolicy,
    ServerError,
    base_url_for_key,
    q_filter,
)
from clinifile.client._rules import query_params
from clinifile.db import accounts as accounts_db
from clinifile.runtime import Runtime, build_runtime, ensure_buckets
from clinifile.storage.seaweed import EmbeddedSeaweed
from tests import samples
from tests.client.flavours import Intercept
from tests.factories import Tenant, make_tenant, wait_for
from tests.live_server import LiveServer
from tests.objects import list_keys

FAST = RetryPolicy(attempts=6, base=0.1, cap=1.0)
MakeClient = Callable[..., Any]


def _file(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def test_upload_wait_download_round_trip(
    server: LiveServer, tenant: Tenant, tmp_path: Path, make_client: MakeClient
) -> None:
    seen: list[int] = []
    content = samples.pdf("round trip")
    with make_client(tenant.key, server.url, retry=FAST) as client:
        record = client.upload(
            tenant.patient_id,
            _file(tmp_path, "Überweisung (1).pdf", content),
            description="Referral",
            wait=True,
            progress=seen.append,
        )
        assert record["processing_completed"] is True
        assert record["content_type"] == "application/pdf"
        assert record["filename"] == "Überweisung (1).pdf"
        assert sum(seen) == len(content)
        out = tmp_path / "out.pdf"
        assert client.download(record["id"], out) == len(content)
        assert out.read_bytes() == content
        listed = list(client.attachments(tenant.patient_id, description="Referral"))
        assert [r["id"] for r in listed] == [record["id"]]


def test_lists_follow_next_links_lazily(
    server: LiveServer, tenant: Tenant, tmp_path: Path, make_client: MakeClient
) -> None:
    with make_client(tenant.key, server.url, retry=FAST) as client:
        ids = [
            client.upload(tenant.patient_id, _file(tmp_path, f"{i}.txt", b"x" * (i + 1)))["id"]
            for i in range(5)
        ]
        assert [r["id"] for r in client.attachments(per_page=2)] == ids
        for attachment_id in ids:  # size is known once processed
            client.wait(attachment_id, timeout=30)
        assert [r["id"] for r in client.attachments(size=">=3", sort="id:desc")] == ids[2:][::-1]


def test_typed_errors_say_what_to_do(
    server: LiveServer, tenant: Tenant, runtime: Runtime, tmp_path: Path, make_client: MakeClient
) -> None:
    stranger = make_client("0" * 64 + "-au1", server.url, retry=FAST)
    with stranger, pytest.raises(AuthenticationFailed, match="API key"):
        stranger.attachment(1)
    with make_client(tenant.key, server.url, retry=FAST) as client:
        with pytest.raises(NotFound):
            client.attachment(999999)
        with pytest.raises(NotFound):
            client.upload(999999, _file(tmp_path, "a.txt", b"a"))
    trial = make_tenant(runtime, plan="trial", storage_limit_bytes=10)
    with make_client(trial.key, server.url, retry=FAST) as client, pytest.raises(QuotaExceeded):
        client.upload(trial.patient_id, _file(tmp_path, "big.txt", b"x" * 11))


def test_an_expired_policy_leads_to_a_fresh_presign(
    server: LiveServer, tenant: Tenant, runtime: Runtime, tmp_path: Path, make_client: MakeClient
) -> None:
    runtime.settings.presign_expires_seconds = 1
    calls = {"n": 0}

    def slow_first(request: httpx.Request) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            time.sleep(2.2)  # the policy expires before the store sees the first POST

    slow = Intercept(before=slow_first)
    with make_client(tenant.key, server.url, retry=FAST, storage_transport=slow) as client:
        record = client.upload(
            tenant.patient_id, _file(tmp_path, "a.pdf", samples.pdf()), wait=True
        )
    assert calls["n"] == 2
    assert record["processing_completed"] is True


def test_a_503_storm_is_retried_and_the_upload_happens_once(
    server: LiveServer, tenant: Tenant, tmp_path: Path, make_client: MakeClient
) -> None:
    # a 503 storm cannot be had from the real server on demand: this transport answers 503
    # to the first three API requests, then forwards to the real server
    failures = {"left": 3}

    def storm(request: httpx.Request) -> httpx.Response | None:
        if failures["left"]:
            failures["left"] -= 1
            return httpx.Response(503, json={"message": "busy"})
        return None

    with make_client(
        tenant.key, server.url, retry=FAST, transport=Intercept(before=storm)
    ) as client:
        record = client.upload(tenant.patient_id, _file(tmp_path, "a.pdf", samples.pdf()))
        assert len(list(client.attachments())) == 1
    assert record["id"]


def test_a_503_with_retry_after_is_waited_out_at_least_that_long(
    server: LiveServer, tenant: Tenant, make_client: MakeClient
) -> None:
    # what the API answers while its database is down (Retry-After: 2; 1 here, to be quick)
    failures = {"left": 2}

    def outage(request: httpx.Request) -> httpx.Response | None:
        if failures["left"]:
            failures["left"] -= 1
            return httpx.Response(
                503, json={"message": "unavailable"}, headers={"Retry-After": "1"}
            )
        return None

    with make_client(
        tenant.key, server.url, retry=FAST, transport=Intercept(before=outage)
    ) as client:
        started = time.monotonic()
        assert client.patient(tenant.patient_id)["id"] == str(tenant.patient_id)
        # FAST alone would have waited under 0.3 s in all
        assert time.monotonic() - started >= 2.0


def test_a_lost_answer_to_create_does_not_register_twice(
    server: LiveServer, tenant: Tenant, tmp_path: Path, make_client: MakeClient
) -> None:
    state = {"dropped": False}

    def drop_first_post(request: httpx.Request, response: httpx.Response) -> None:
        if request.method == "POST" and not state["dropped"]:
            state["dropped"] = True  # the server registered it; the answer never arrives
            raise httpx.ReadError("connection reset", request=request)

    with make_client(
        tenant.key, server.url, retry=FAST, transport=Intercept(after=drop_first_post)
    ) as client:
        record = client.upload(
            tenant.patient_id, _file(tmp_path, "a.pdf", samples.pdf()), description="once"
        )
        assert record["description"] == "once"
        assert [r["id"] for r in client.attachments()] == [record["id"]]


def test_the_api_down_for_a_moment_is_waited_out(
    runtime: Runtime, tenant: Tenant, tmp_path: Path, make_client: MakeClient
) -> None:
    server = LiveServer(runtime)
    starter = threading.Timer(1.0, server.start)
    starter.start()
    try:
        with make_client(
            tenant.key, server.url, retry=RetryPolicy(attempts=10, base=0.2, cap=1.0)
        ) as client:
            record = client.upload(tenant.patient_id, _file(tmp_path, "a.pdf", samples.pdf()))
        assert record["id"]
    finally:
        starter.join()
        server.stop()


def test_errors_after_every_retry_are_server_errors(
    tenant: Tenant, make_client: MakeClient
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, json={"message": "bad gateway"})

    with (
        make_client(
            tenant.key, "http://x", retry=FAST, transport=httpx.MockTransport(handler)
        ) as client,
        pytest.raises(ServerError, match="502"),
    ):
        client.attachment(1)


def test_a_reused_upload_is_invalid(
    server: LiveServer, tenant: Tenant, make_client: MakeClient
) -> None:
    client = make_client(tenant.key, server.url, retry=FAST)
    with client, pytest.raises(InvalidUpload, match="upload the file again"):
        client._register(tenant.patient_id, "http://nowhere/x", None)


def test_the_shard_comes_from_the_key(make_client: MakeClient) -> None:
    assert base_url_for_key("abc-uk1") == "https://api.uk1.cliniko.com/v1"
    assert base_url_for_key("abc-au2") == "https://api.au2.cliniko.com/v1"
    assert base_url_for_key("abc") == "https://api.au1.cliniko.com/v1"
    assert make_client("abc-ca1").base == "https://api.ca1.cliniko.com/v1"
    assert make_client("abc-ca1", "http://127.0.0.1:8000/").base == "http://127.0.0.1:8000/v1"


def test_the_q_builder() -> None:
    assert q_filter("size", ">=100") == "size:>=100"
    assert q_filter("id", [1, 2, 3]) == "id:=1,2,3"
    assert q_filter("processing_completed", True) == "processing_completed:=true"
    assert q_filter("description", "a: b c") == "description:=a: b c"
    assert q_filter("description", "~Überweisung") == "description:~Überweisung"
    assert q_filter("archived_at", "*") == "archived_at:*"
    params = query_params({"description": "x y:z"}, sort="id:desc", per_page=10)
    assert httpx.URL("http://h/", params=params).query == (
        b"q%5B%5D=description%3A%3Dx+y%3Az&sort=id%3Adesc&per_page=10"
    )


def test_filters_with_spaces_colons_and_unicode_reach_the_server(
    server: LiveServer, tenant: Tenant, tmp_path: Path, make_client: MakeClient
) -> None:
    with make_client(tenant.key, server.url, retry=FAST) as client:
        record = client.upload(
            tenant.patient_id, _file(tmp_path, "a.txt", b"a"), description="Brief: Dr. Müller"
        )
        found = list(client.attachments(description="Brief: Dr. Müller"))
        assert [r["id"] for r in found] == [record["id"]]
        contains = client.attachments(description="~: Dr. Mü")
        assert [r["id"] for r in contains] == [record["id"]]


UPLOAD_SCRIPTS = {
    "sync": (
        "from clinifile.client import Client\n"
        "with Client(sys.argv[1], sys.argv[2]) as c:\n"
        "    r = c.upload(sys.argv[3], sys.argv[4])\n"
    ),
    "async": (
        "import asyncio\n"
        "from clinifile.client import AsyncClient\n"
        "async def upload():\n"
        "    async with AsyncClient(sys.argv[1], sys.argv[2]) as c:\n"
        "        return await c.upload(sys.argv[3], sys.argv[4])\n"
        "r = asyncio.run(upload())\n"
    ),
}


@pytest.mark.parametrize("flavour", sorted(UPLOAD_SCRIPTS))
def test_a_200_mb_upload_keeps_the_clients_memory_low(
    server: LiveServer, tenant: Tenant, tmp_path: Path, flavour: str
) -> None:
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        f.write(b"%PDF-1.4\n")
        f.truncate(200 * 1024 * 1024)
    script = (
        "import json, re, sys\n"
        + UPLOAD_SCRIPTS[flavour]
        # VmHWM, not ru_maxrss: ru_maxrss keeps the parent's high-water mark across exec
        + "status = open('/proc/self/status').read()\n"
        "peak = int(re.search('VmHWM:[ \\t]+([0-9]+)', status)[1])\n"
        "print(json.dumps({'id': r['id'], 'peak_kib': peak}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, tenant.key, server.url, str(tenant.patient_id), str(big)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    result = json.loads(out.stdout)
    assert result["peak_kib"] < 100 * 1024, f"peak RSS {result['peak_kib'] / 1024:.0f} MiB"


def _cli(*args: str, key: str, base: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLINIFILE_")}
    env.update(CLINIFILE_API_KEY=key, CLINIFILE_BASE_URL=base)
    return subprocess.run(
        [sys.executable, "-m", "clinifile.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_cli_upload_ls_download(server: LiveServer, tenant: Tenant, tmp_path: Path) -> None:
    folder = tmp_path / "letters"
    folder.mkdir()
    _file(folder, "a.pdf", samples.pdf("a"))
    _file(folder, "b.png", samples.png())
    done = _cli(
        "upload",
        "--patient",
        str(tenant.patient_id),
        str(folder),
        "--wait",
        "--json",
        key=tenant.key,
        base=server.url,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert sorted(Path(r["file"]).name for r in results if r["ok"]) == ["a.pdf", "b.png"]
    listed = _cli(
        "ls",
        "--patient",
        str(tenant.patient_id),
        "--json",
        "--filter",
        "content_type:=image/png",
        key=tenant.key,
        base=server.url,
    )
    assert listed.returncode == 0, listed.stderr
    [png] = json.loads(listed.stdout)
    out = tmp_path / "copy.png"
    fetched = _cli("download", png["id"], "-o", str(out), key=tenant.key, base=server.url)
    assert fetched.returncode == 0, fetched.stderr
    assert out.read_bytes() == samples.png()
    table = _cli("ls", key=tenant.key, base=server.url)
    assert "b.png" in table.stdout and "image/png" in table.stdout


def test_cli_exit_codes(
    server: LiveServer, tenant: Tenant, runtime: Runtime, tmp_path: Path
) -> None:
    bad_key = _cli("ls", key="0" * 64 + "-au1", base=server.url)
    assert bad_key.returncode == 3 and "API key" in bad_key.stderr
    missing = _cli(
        "upload", "--patient", "1", str(tmp_path / "nope"), key=tenant.key, base=server.url
    )
    assert missing.returncode == 2
    trial = make_tenant(runtime, plan="trial", storage_limit_bytes=5)
    over = _cli(
        "upload",
        "--patient",
        str(trial.patient_id),
        str(_file(tmp_path, "x.txt", b"123456")),
        "--json",
        key=trial.key,
        base=server.url,
    )
    assert over.returncode == 1
    [failed] = json.loads(over.stdout)
    assert failed["ok"] is False and failed["error"] == (
        "x.txt is 6 bytes, more than the 5 bytes this account may still store "
        "(the storage limit of its plan)"
    )


def test_cli_upload_over_the_storage_left_prints_the_plain_message_and_stores_nothing(
    server: LiveServer, runtime: Runtime, tmp_path: Path
) -> None:
    trial = make_tenant(runtime, plan="trial", storage_limit_bytes=95 * 1024 * 1024)
    scan = tmp_path / "scan.pdf"
    with open(scan, "wb") as f:
        f.truncate(300 * 1024 * 1024)  # sparse: streaming it would take seconds
    started = time.monotonic()
    over = _cli(
        "upload", "--patient", str(trial.patient_id), str(scan), key=trial.key, base=server.url
    )
    assert over.returncode == 1, over.stderr
    assert (
        f"not uploaded: {scan}: scan.pdf is 300 MB, more than the 95 MB this account may "
        "still store (the storage limit of its plan)\n"
    ) in over.stderr
    assert "too large for this account" not in over.stdout + over.stderr
    assert time.monotonic() - started < 30
    assert list_keys(server.runtime.store("au1"), f"{trial.account_id}/") == []
    with runtime.sessions() as session:
        account = accounts_db.get(session, trial.account_id)
        assert account is not None and account.storage_used_bytes == 0


def test_a_png_round_trip_into_a_file_object_with_progress(
    server: LiveServer, tenant: Tenant, tmp_path: Path, make_client: MakeClient
) -> None:
    content = samples.png()
    path = _file(tmp_path, "scan (2).png", content)
    with make_client(tenant.key, server.url, retry=FAST) as client:
        seen: list[int] = []
        record = client.upload(
            tenant.patient_id, path, description="async", wait=True, progress=seen.append
        )
        assert record["content_type"] == "image/png"
        assert record["filename"] == "scan (2).png"
        assert sum(seen) == len(content)
        listed = [r["id"] for r in client.attachments(description="async")]
        assert listed == [record["id"]]
        out = tmp_path / "copy.png"
        assert client.download(record["id"], out) == len(content)
        assert out.read_bytes() == content
        fetched: list[int] = []
        with open(tmp_path / "again.png", "wb") as handle:
            assert client.download(record["id"], handle, fetched.append) == len(content)
        assert (tmp_path / "again.png").read_bytes() == content
        assert sum(fetched) == len(content)


def test_the_object_store_down_for_a_moment_is_waited_out(
    runtime: Runtime, tenant: Tenant, tmp_path: Path, make_client: MakeClient
) -> None:
    store = EmbeddedSeaweed(tmp_path / "own-store")
    store.start()
    assert store.credentials is not None
    settings = runtime.settings.model_copy(
        update={
            "s3_endpoint_url": store.endpoint_url,
            "s3_access_key_id": store.credentials.access_key_id,
            "s3_secret_access_key": store.credentials.secret_access_key,
        }
    )
    own = build_runtime(settings)
    ensure_buckets(own)
    server = LiveServer(own)
    server.start()
    try:
        store.stop()  # presigning still works (it is local signing); the POST cannot land
        restarter = threading.Timer(1.5, store.start)  # same data directory, same ports
        restarter.start()
        patient = RetryPolicy(attempts=10, base=0.3, cap=2.0)
        with make_client(tenant.key, server.url, retry=patient) as client:
            record = client.upload(
                tenant.patient_id, _file(tmp_path, "a.pdf", samples.pdf()), wait=True
            )
            assert record["processing_completed"] is True
            assert [r["id"] for r in client.attachments()] == [record["id"]]
        restarter.join()
    finally:
        server.stop()
        own.close()
        store.stop()


def test_cli_ctrl_c_leaves_nothing_half_registered(
    server: LiveServer, tenant: Tenant, tmp_path: Path
) -> None:
    big = tmp_path / "big.pdf"
    with open(big, "wb") as f:
        f.write(b"%PDF-1.4\n")
        f.truncate(4 * 1024 * 1024 * 1024)  # sparse; seconds to send, so Ctrl-C lands mid-POST
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLINIFILE_")}
    env.update(CLINIFILE_API_KEY=tenant.key, CLINIFILE_BASE_URL=server.url)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "clinifile.cli",
            "upload",
            "--patient",
            str(tenant.patient_id),
            str(big),
        ],
        # as from a terminal: pytest-xdist workers ignore SIGINT, and children inherit that
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    store = server.runtime.store("au1")
    # interrupt once the CLI has its presigned post
    wait_for(lambda: process.poll() is None and _presigned(server, tenant), timeout=30)
    process.send_signal(signal.SIGINT)
    started = time.monotonic()
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert time.monotonic() - started < 10, "the upload in flight must stop, not finish"
    assert "not registered" in stderr
    with Client(tenant.key, server.url, retry=FAST) as client:
        assert list(client.attachments(archived_at="*")) == []
    assert not [o for o in list_keys(store, f"{tenant.account_id}/") if "/temp/" not in o.key]


def _presigned(server: LiveServer, tenant: Tenant) -> bool:
    """The CLI has asked for its presigned post (the rate limiter counted its key)."""
    from clinifile.services.api_keys import hash_key

    limiter = server.app.state.limiter
    decision = limiter._limiter.get_window_stats(limiter._item, hash_key(tenant.key))
    return decision.remaining < server.runtime.settings.rate_limit_per_minute


def test_cli_audit_shows_who_downloaded_what(
    server: LiveServer, tenant: Tenant, tmp_path: Path
) -> None:
    with Client(tenant.key, base_url=server.url) as client:
        record = client.upload(
            tenant.patient_id, _file(tmp_path, "a.pdf", samples.pdf()), wait=True
        )
        client.download(record["id"], tmp_path / "copy.pdf")
        events = list(client.audit_events(attachment_id=record["id"]))
    assert [e["action"] for e in events] == [
        "patient_attachment.download",
        "patient_attachment.create",
    ]
    shown = _cli(
        "audit",
        "--attachment",
        record["id"],
        "--action",
        "patient_attachment.download",
        "--json",
        key=tenant.key,
        base=server.url,
    )
    assert shown.returncode == 0, shown.stderr
    [event] = json.loads(shown.stdout)
    assert event["ip_address"] == "127.0.0.1"
    assert event["patient"]["links"]["self"].endswith(f"/patients/{tenant.patient_id}")
    table = _cli("audit", key=tenant.key, base=server.url)
    assert table.returncode == 0, table.stderr
    assert "download" in table.stdout and "127.0.0.1" in table.stdout
