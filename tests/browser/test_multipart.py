"""A 100 MiB ultrasound video from the page over a slow clinic link: it goes as a multipart
upload (over the 64 MiB threshold), survives the network dropping in the middle, and after a
reload, choosing the same file again sends only the parts the store does not hold yet.

Real Chromium, real SeaweedFS, a real server on SQLite and on PostgreSQL; the link is slowed
and cut with Chromium's own network emulation (DevTools), which is what the page sees."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import expect

from clinifile.runtime import Runtime
from tests.browser.helpers import sign_in, until
from tests.conftest import database_url
from tests.factories import Tenant, make_tenant
from tests.live_server import LiveServer

__all__ = ["database_url"]  # this module's tests run on SQLite and PostgreSQL

MiB = 1024 * 1024
SIZE = 100 * MiB
SLOW = {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 6 * MiB}
CUT = {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}
PART = re.compile(r"[?&]partNumber=(\d+)")


@dataclass
class PartLog:
    """What the page sent to the store and asked of the server, as Chromium saw it."""

    stored: list[int] = field(default_factory=list)  # parts the store answered 200 for
    failed: list[int] = field(default_factory=list)  # parts whose PUT never got an answer
    created: list[dict[str, Any]] = field(default_factory=list)  # POST ...multipart_uploads

    def watch(self, page: Any) -> None:
        page.on("requestfinished", self._finished)
        page.on("requestfailed", self._failed)

    def _finished(self, request: Any) -> None:
        match = PART.search(request.url)
        response = request.response()
        if request.method == "PUT" and match and response is not None and response.ok:
            self.stored.append(int(match.group(1)))
        creating = request.method == "POST" and request.url.endswith("_multipart_uploads")
        if creating and response is not None and response.status == 201:
            self.created.append(response.json())

    def _failed(self, request: Any) -> None:
        match = PART.search(request.url)
        if request.method == "PUT" and match:
            self.failed.append(int(match.group(1)))


def _video(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "gait-analysis.mp4"
    data = b"\x00\x00\x00\x18ftypmp42" + os.urandom(SIZE - 12)
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


def _open_patient(page: Any, server: LiveServer, tenant: Tenant) -> Any:
    sign_in(page, server, tenant.key, f"#/patients/{tenant.patient_id}")
    expect(page.get_by_role("heading", name="Ada Lovelace")).to_be_visible()
    session = page.context.new_cdp_session(page)
    session.send("Network.enable")
    session.send("Network.emulateNetworkConditions", SLOW)
    return session


def _progress(page: Any) -> int:
    return int(page.evaluate("document.querySelector('#uploads li progress').value"))


def _processed(page: Any, server: LiveServer, tenant: Tenant, sha256: str) -> None:
    """The upload ends processed, once, with the file's exact size and SHA-256."""
    state = page.locator("#uploads .upload-state")
    expect(state).to_have_text("Processed", timeout=180_000)
    answer = httpx.get(
        f"{server.url}/v1/patients/{tenant.patient_id}/patient_attachments",
        auth=(tenant.key, ""),
        timeout=30,
    )
    records = answer.json()["patient_attachments"]
    assert [(r["filename"], r["size"], r["checksum_sha256"]) for r in records] == [
        ("gait-analysis.mp4", SIZE, sha256)
    ]


def test_a_100_mib_upload_goes_on_after_the_network_drops(
    page: Any, server: LiveServer, runtime: Runtime, tmp_path: Path, screenshot: Any
) -> None:
    tenant = make_tenant(runtime)
    video, sha256 = _video(tmp_path)
    log = PartLog()
    log.watch(page)
    session = _open_patient(page, server, tenant)
    page.locator("#file-input").set_input_files(video)
    uploads = page.locator("#uploads li")
    expect(uploads).to_have_count(1)
    expect(uploads.locator("progress")).to_have_count(1)  # one bar for the whole file
    until(page, lambda: _progress(page) >= 25, timeout=120, what="a quarter sent")
    assert len(log.created) == 1
    upload = log.created[0]
    assert upload["parts"] > 1, upload

    session.send("Network.emulateNetworkConditions", CUT)
    expect(uploads.locator(".upload-state")).to_have_text("Waiting for the network…")
    at_cut = _progress(page)
    screenshot("multipart-1-network-down")
    session.send("Network.emulateNetworkConditions", SLOW)
    expect(uploads.locator(".upload-state")).to_have_text("Uploading…")
    until(page, lambda: _progress(page) > at_cut, timeout=120, what="progress after the cut")
    _processed(page, server, tenant, sha256)
    screenshot("multipart-2-processed")

    assert log.failed, "the cut interrupted no part: it tested nothing"
    assert set(log.failed) <= set(log.stored), "a part cut off was not sent again"
    # every part stored once: only the parts the cut interrupted were sent again
    assert sorted(log.stored) == list(range(1, upload["parts"] + 1))
    assert len(log.created) == 1


def test_choosing_the_same_file_after_a_reload_sends_only_the_missing_parts(
    page: Any, server: LiveServer, runtime: Runtime, tmp_path: Path, screenshot: Any
) -> None:
    tenant = make_tenant(runtime)
    video, sha256 = _video(tmp_path)
    log = PartLog()
    log.watch(page)
    page.on("dialog", lambda dialog: dialog.accept())  # "leave the page?": yes
    _open_patient(page, server, tenant)
    page.locator("#file-input").set_input_files(video)
    until(page, lambda: len(log.stored) >= 3, timeout=120, what="three parts stored")
    assert len(log.created) == 1
    upload = log.created[0]
    assert len(log.stored) < upload["parts"], "all sent before the reload: it tested nothing"

    page.reload()
    expect(page.get_by_role("heading", name="Ada Lovelace")).to_be_visible()
    expect(page.locator("#uploads li")).to_have_count(0)
    # what the store holds now (ListParts, through the server)
    held = httpx.get(
        f"{server.url}/v1/attachment_multipart_uploads/{upload['id']}",
        auth=(tenant.key, ""),
        timeout=30,
    ).json()
    already = {part["number"] for part in held["uploaded"]}
    assert set(log.stored) <= already
    sent_before = len(log.stored)

    page.locator("#file-input").set_input_files(video)
    # the bar starts where the store stands, not at zero
    held_percent = len(already) * upload["part_size"] * 100 // SIZE
    until(page, lambda: _progress(page) >= held_percent, what="the bar at the parts held")
    screenshot("multipart-3-resumed")
    _processed(page, server, tenant, sha256)

    sent_after = log.stored[sent_before:]
    assert len(log.created) == 1, "the same file started a new upload"
    assert already.isdisjoint(sent_after), f"parts {already & set(sent_after)} sent again"
    assert sorted(already | set(sent_after)) == list(range(1, upload["parts"] + 1))
    assert len(sent_after) == len(set(sent_after))
