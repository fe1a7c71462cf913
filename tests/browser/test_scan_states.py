"""The page shows what became of each file instead of an endless "Processing…": "Blocked:
infected (its signature)" for malware, "Blocked: ..." for a refused type, "Failed: ..." with
the reason, in the files table and in the upload panel; a blocked file cannot be downloaded.
Against a real clamd; screenshots in test-output/browser/."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests import samples
from tests.browser.helpers import drop, sign_in
from tests.clamav import EICAR, ClamdService
from tests.factories import Tenant
from tests.live_server import LiveServer

PROGRAM = b"MZ" + b"\x90" * 62 + b"PE\x00\x00" + b"\x00" * 200


@pytest.fixture
def settings_overrides(clamd: ClamdService) -> dict[str, object]:
    return {"scan": "clamd", "clamd_address": clamd.address}


def _open(page: Any, server: LiveServer, tenant: Tenant) -> None:
    sign_in(page, server, tenant.key, f"#/patients/{tenant.patient_id}")
    expect(page.get_by_role("heading", name="Ada Lovelace")).to_be_visible()


def test_the_page_shows_infected_and_refused_files_as_blocked(
    page: Any, server: LiveServer, tenant: Tenant, screenshot: Any
) -> None:
    _open(page, server, tenant)
    drop(
        page,
        "#dropzone",
        {"referral.pdf": EICAR, "setup.pdf": PROGRAM, "letter.pdf": samples.pdf()},
    )
    rows = page.locator("#attachments-table tbody tr")
    infected = rows.filter(has_text="referral.pdf")
    expect(infected.locator("td[data-label=State]")).to_have_text(
        "Blocked: infected (Clinifile.Test.EICAR-Body.UNOFFICIAL)", timeout=30_000
    )
    state = infected.locator("td[data-label=State] span")
    expect(state).to_have_attribute(
        "title",
        "The virus scanner found Clinifile.Test.EICAR-Body.UNOFFICIAL in this file; it is kept "
        "aside and not served until an administrator releases or deletes it.",
    )
    expect(infected.get_by_role("button", name="Download referral.pdf")).to_have_count(0)
    refused = rows.filter(has_text="setup.pdf")
    expect(refused.locator("td[data-label=State]")).to_have_text("Blocked: type not accepted")
    expect(refused.locator("td[data-label=State] span")).to_have_attribute(
        "title", re.compile(r"^This file is a Windows program \(application/x-msdownload\)")
    )
    refused_type = refused.locator("td[data-label=Type] span")
    expect(refused_type).to_have_text("Windows program")  # never "PDF file", its name's claim
    expect(refused_type).to_have_attribute("title", "application/x-msdownload")
    expect(rows.filter(has_text="letter.pdf")).to_contain_text("Processed")
    uploads = page.locator("#uploads li")
    expect(uploads.filter(has_text="referral.pdf")).to_contain_text("Blocked: infected (")
    expect(uploads.filter(has_text="setup.pdf")).to_contain_text("Blocked: type not accepted")
    assert page.get_by_text("Processing…").count() == 0
    screenshot("scan-blocked")


@pytest.mark.parametrize(
    "settings_overrides",
    [{"scan": "clamd", "clamd_address": "unix:/nonexistent/clamd.sock", "scan_max_attempts": 1}],
)
def test_the_page_shows_why_a_file_failed(
    page: Any, server: LiveServer, tenant: Tenant, screenshot: Any
) -> None:
    _open(page, server, tenant)
    drop(page, "#dropzone", {"letter.pdf": samples.pdf()})
    row = page.locator("#attachments-table tbody tr").filter(has_text="letter.pdf")
    expect(row.locator("td[data-label=State]")).to_contain_text(
        "Failed: gave up after 1 attempt: the virus scanner", timeout=30_000
    )
    expect(row).to_contain_text("not checked for malware")
    expect(page.locator("#uploads li").filter(has_text="letter.pdf")).to_contain_text("Failed:")
    screenshot("scan-failed")
