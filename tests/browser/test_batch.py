"""A front-desk person drops a folder of scanned records at once: the page lives within the
key's rate limit by itself (200 requests a minute by default), waits out a 429 as its
Retry-After says, and every file ends "Processed" with no manual retry."""

from __future__ import annotations

import re
import time
from typing import Any

from playwright.sync_api import expect

from clinifile.runtime import Runtime
from tests.browser.helpers import drop, sign_in
from tests.factories import make_tenant
from tests.live_server import LiveServer

BATCH = 150


def _api_log(page: Any, server: LiveServer) -> tuple[list[float], list[str]]:
    """The times of the page's API requests, and any answer that was a 429."""
    sent: list[float] = []
    refused: list[str] = []
    api = f"{server.url}/v1/"
    page.on("request", lambda r: sent.append(time.monotonic()) if r.url.startswith(api) else None)
    page.on(
        "response",
        lambda r: refused.append(r.url) if r.url.startswith(api) and r.status == 429 else None,
    )
    return sent, refused


def test_a_batch_of_150_files_dropped_at_once_is_processed_without_a_manual_retry(
    page: Any, server: LiveServer, runtime: Runtime, screenshot: Any
) -> None:
    trial = make_tenant(runtime, plan="trial")  # the default trial limit: room for them all
    sent, refused = _api_log(page, server)
    sign_in(page, server, trial.key, f"#/patients/{trial.patient_id}")
    expect(page.get_by_role("heading", name="Ada Lovelace")).to_be_visible()
    started = time.monotonic()
    drop(
        page,
        "#dropzone",
        {f"scan-{i:03d}.pdf": f"%PDF-1.4 scan {i}\n".encode() for i in range(BATCH)},
    )
    uploads = page.locator("#uploads li")
    expect(uploads).to_have_count(BATCH)
    screenshot("batch-1-uploading")
    done = page.locator("#uploads .upload-state").filter(has_text=re.compile("^Processed$"))
    expect(done).to_have_count(BATCH, timeout=150_000)
    took = time.monotonic() - started
    expect(page.locator("#uploads-summary")).to_have_text(f"{BATCH} of {BATCH} files processed")
    expect(page.locator("#attachments-page")).to_have_text(re.compile(rf"\({BATCH} files\)"))
    rows = page.locator("#attachments-table tbody tr")
    expect(rows.filter(has_text="Processed")).to_have_count(25)  # the first page, all done
    expect(page.get_by_role("button", name=re.compile("Retry"))).to_have_count(0)
    screenshot("batch-2-processed")
    assert refused == [], f"the page went over the rate limit: {len(refused)} answers were 429"
    # besides one registration a file: presigns, processing checks, list and storage
    # refreshes, at most about one a second while the batch runs
    others = len(sent) - BATCH
    assert others <= 20 + took, f"{others} requests besides the registrations in {took:.0f}s"
    print(f"{BATCH} files processed in {took:.1f}s with {len(sent)} API requests")


def test_a_429_is_waited_out_as_its_retry_after_says(
    page: Any, server: LiveServer, runtime: Runtime
) -> None:
    """The server (or another client of the key) has used the minute up: the registration
    and the list are refused once with Retry-After: 2; the page waits, asks again, and the
    file ends processed."""
    tenant = make_tenant(runtime)
    refused_at: dict[str, float] = {}
    retried_at: dict[str, float] = {}

    def once_429(route: Any) -> None:
        request = route.request
        what = f"{request.method} {request.url.split('?')[0]}"
        if what not in refused_at:
            refused_at[what] = time.monotonic()
            route.fulfill(
                status=429,
                headers={
                    "Retry-After": "2",
                    "X-RateLimit-Limit": "200",
                    "X-RateLimit-Remaining": "0",
                },
                json={"message": "Too many requests: retry after 2 seconds"},
            )
            return
        retried_at.setdefault(what, time.monotonic())
        route.continue_()

    sign_in(page, server, tenant.key, f"#/patients/{tenant.patient_id}")
    expect(page.get_by_role("heading", name="Ada Lovelace")).to_be_visible()
    page.route(f"{server.url}/v1/patient_attachments", once_429)
    page.route(re.compile(r".*/v1/patients/\d+/patient_attachments\?.*"), once_429)
    drop(page, "#dropzone", {"letter.pdf": b"%PDF-1.4 letter\n"})
    upload = page.locator("#uploads li")
    expect(upload).to_contain_text("Processed", timeout=30_000)
    expect(page.locator("#attachments-table tbody tr")).to_contain_text("Processed")
    for what, at in refused_at.items():
        assert what in retried_at, f"{what} was not sent again"
        assert retried_at[what] - at >= 1.9, f"{what} was sent again before its Retry-After"
    assert "POST " + f"{server.url}/v1/patient_attachments" in refused_at
    expect(page.get_by_role("status")).not_to_contain_text("Too many")
