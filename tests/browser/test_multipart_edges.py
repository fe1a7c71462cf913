"""The page's multipart uploads at their edges, with the threshold set low
(CLINIFILE_PAGE_MULTIPART_THRESHOLD_BYTES = 6 MiB) so that small files show them: the page
takes the threshold from the server, a file over the account's storage is refused before a
byte is sent, and a remembered upload that was aborted meanwhile is started anew."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from clinifile.runtime import Runtime
from tests.browser.helpers import sign_in, until
from tests.browser.test_multipart import SLOW, PartLog
from tests.conftest import database_url
from tests.factories import Tenant, make_tenant
from tests.live_server import LiveServer

__all__ = ["database_url"]  # on SQLite and PostgreSQL

MiB = 1024 * 1024
THRESHOLD = 6 * MiB


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"page_multipart_threshold_bytes": THRESHOLD}


def _file(tmp_path: Path, name: str, size: int) -> Path:
    path = tmp_path / name
    path.write_bytes(b"%PDF-1.4\n" + os.urandom(size - 9))
    return path


def _open_patient(page: Any, server: LiveServer, tenant: Tenant) -> None:
    sign_in(page, server, tenant.key, f"#/patients/{tenant.patient_id}")
    expect(page.get_by_role("heading", name="Ada Lovelace")).to_be_visible()


def test_the_page_sends_files_over_the_servers_threshold_in_parts(
    page: Any, server: LiveServer, runtime: Runtime, tmp_path: Path
) -> None:
    assert httpx.get(f"{server.url}/app/config.json").json() == {
        "multipart_threshold_bytes": THRESHOLD
    }
    tenant = make_tenant(runtime)
    log = PartLog()
    log.watch(page)
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    _open_patient(page, server, tenant)
    small = _file(tmp_path, "letter.pdf", THRESHOLD)  # at the threshold: one POST
    large = _file(tmp_path, "scan.pdf", 12 * MiB)  # over it: parts of 5, 5 and 2 MiB
    page.locator("#file-input").set_input_files([small, large])
    states = page.locator("#uploads .upload-state")
    expect(states).to_have_text(["Processed", "Processed"], timeout=60_000)
    assert [upload["key"].rsplit("/", 1)[-1] for upload in log.created] == ["scan.pdf"]
    assert sorted(log.stored) == [1, 2, 3]
    presigned = [url for url in posts if url.startswith(runtime.store("au1").bucket_url)]
    assert len(presigned) == 1, presigned  # the small file's POST to the store


def test_a_file_over_the_accounts_storage_is_refused_before_a_part_is_sent(
    page: Any, server: LiveServer, runtime: Runtime, tmp_path: Path
) -> None:
    tenant = make_tenant(runtime, plan="trial", storage_limit_bytes=10 * MiB)
    log = PartLog()
    log.watch(page)
    _open_patient(page, server, tenant)
    page.locator("#file-input").set_input_files(_file(tmp_path, "mri.pdf", 12 * MiB))
    upload = page.locator("#uploads li")
    expect(upload.locator(".upload-state")).to_have_text(
        re.compile(r"^Not uploaded: .*storage", re.IGNORECASE), timeout=30_000
    )
    expect(upload.get_by_role("button", name="Retry upload of mri.pdf")).to_be_hidden()
    assert log.created == [] and log.stored == [] and log.failed == []


def test_a_remembered_upload_aborted_meanwhile_starts_anew(
    page: Any, server: LiveServer, runtime: Runtime, tmp_path: Path
) -> None:
    tenant = make_tenant(runtime)
    log = PartLog()
    log.watch(page)
    page.on("dialog", lambda dialog: dialog.accept())
    _open_patient(page, server, tenant)
    session = page.context.new_cdp_session(page)
    session.send("Network.emulateNetworkConditions", {**SLOW, "uploadThroughput": 2 * MiB})
    scan = _file(tmp_path, "scan.pdf", 30 * MiB)
    page.locator("#file-input").set_input_files(scan)
    until(page, lambda: log.stored, timeout=60, what="a part stored")
    page.reload()
    expect(page.get_by_role("heading", name="Ada Lovelace")).to_be_visible()
    first = log.created[0]["id"]
    aborted = httpx.delete(
        f"{server.url}/v1/attachment_multipart_uploads/{first}", auth=(tenant.key, "")
    )
    assert aborted.status_code == 204, aborted.text
    session.send("Network.emulateNetworkConditions", {**SLOW, "uploadThroughput": -1})

    page.locator("#file-input").set_input_files(scan)
    expect(page.locator("#uploads .upload-state")).to_have_text("Processed", timeout=60_000)
    assert [upload["id"] for upload in log.created][:1] == [first]
    assert len(log.created) == 2, "the aborted upload was not replaced by a new one"


def test_a_part_the_store_fails_is_sent_again_alone(
    page: Any, server: LiveServer, runtime: Runtime, tmp_path: Path
) -> None:
    """The store answers part 2's first PUT with a 500 (the store's own error page); the
    page sends part 2 again, and no other part twice."""
    tenant = make_tenant(runtime)
    log = PartLog()
    log.watch(page)
    refused: list[str] = []

    def fail_part_2_once(route: Any) -> None:
        if "partNumber=2&" in route.request.url + "&" and not refused:
            refused.append(route.request.url)
            route.fulfill(
                status=500,
                headers={"Access-Control-Allow-Origin": "*"},
                content_type="application/xml",
                body="<Error><Code>InternalError</Code><Message>try again</Message></Error>",
            )
            return
        route.continue_()

    page.route(re.compile(r".*[?&]partNumber=\d+.*"), fail_part_2_once)
    _open_patient(page, server, tenant)
    page.locator("#file-input").set_input_files(_file(tmp_path, "scan.pdf", 12 * MiB))
    expect(page.locator("#uploads .upload-state")).to_have_text("Processed", timeout=60_000)
    assert len(refused) == 1
    assert sorted(log.stored) == [1, 2, 3]  # part 2 stored once, after its refusal
    assert len(log.created) == 1
