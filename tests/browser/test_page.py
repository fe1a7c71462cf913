"""A clinic's staff member at /app: signs in, finds and creates patients, drops three files
on a patient (one over the trial's storage limit), watches two be processed and one
refused with the limit's message, downloads one and gets its exact bytes, archives one."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
from playwright.sync_api import expect

from clinifile.runtime import Runtime
from clinifile.services import accounts
from tests import samples
from tests.factories import make_tenant
from tests.live_server import LiveServer

LIMIT = 200_000
FILES = {
    "referral.pdf": samples.pdf("Referral to physiotherapy"),
    "x-ray.png": samples.png(40, 40),
    "ultrasound.mp4": b"\x00\x00\x00\x18ftypmp42" + b"\x01" * 300_000,  # over the limit
}


def _sign_in(page: Any, server: LiveServer, key: str) -> None:
    page.goto(f"{server.url}/app/")
    expect(page.get_by_label("API key")).to_be_focused()
    page.keyboard.type(key)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Patients")).to_be_visible()


def _drop(page: Any, selector: str, files: dict[str, bytes]) -> None:
    """Drops files on the element as a user's drag and drop does: a drop event whose
    DataTransfer holds them."""
    payload = {name: base64.b64encode(data).decode() for name, data in files.items()}
    transfer = page.evaluate_handle(
        """(files) => {
            const transfer = new DataTransfer();
            for (const [name, b64] of Object.entries(files)) {
                const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
                transfer.items.add(new File([bytes], name));
            }
            return transfer;
        }""",
        payload,
    )
    page.dispatch_event(selector, "dragover", {"dataTransfer": transfer})
    page.dispatch_event(selector, "drop", {"dataTransfer": transfer})


def test_staff_upload_watch_download_and_archive(
    page: Any, server: LiveServer, runtime: Runtime, screenshot: Any
) -> None:
    trial = make_tenant(runtime, plan="trial", storage_limit_bytes=LIMIT)
    page.goto(f"{server.url}/app/")
    screenshot("1-sign-in")
    _sign_in(page, server, trial.key)
    assert trial.key not in page.url
    storage = json.loads(page.evaluate("JSON.stringify(sessionStorage)"))
    assert storage == {"clinifile.apiKey": trial.key}
    assert page.evaluate("localStorage.length") == 0
    assert page.context.cookies() == []

    page.get_by_text("New patient").click()
    page.get_by_label("First name", exact=True).last.fill("Grace")
    page.get_by_label("Last name", exact=True).last.fill("Hopper")
    page.get_by_label("Date of birth (optional)").fill("1906-12-09")
    page.get_by_role("button", name="Create patient").click()
    expect(page.get_by_role("heading", name="Grace Hopper")).to_be_visible()
    expect(page.get_by_role("status")).to_have_text("Created Grace Hopper.")

    _drop(page, "#dropzone", FILES)
    uploads = page.locator("#uploads li")
    expect(uploads).to_have_count(3)
    refused = uploads.filter(has_text="ultrasound.mp4")
    expect(refused).to_contain_text("storage limit")
    expect(refused.get_by_role("button", name=re.compile("Retry"))).to_be_hidden()
    rows = page.locator("#attachments-table tbody tr")
    expect(rows).to_have_count(2)
    screenshot("2-uploading")
    expect(rows.filter(has_text="Processed")).to_have_count(2, timeout=30_000)
    # types as people say them; the exact type on hover
    pdf_type = rows.filter(has_text="referral.pdf").locator("td[data-label=Type] span")
    expect(pdf_type).to_have_text("PDF")
    expect(pdf_type).to_have_attribute("title", "application/pdf")
    expect(rows.filter(has_text="x-ray.png")).to_contain_text("PNG image")
    # exactly "Processed": "Uploaded; being processed" holds the word too
    processed = page.locator("#uploads .upload-state").filter(has_text=re.compile("^Processed$"))
    expect(processed).to_have_count(2)
    screenshot("3-processed-and-refused")

    with page.expect_download() as downloading:
        page.get_by_role("button", name="Download referral.pdf").click()
    download = downloading.value
    assert download.suggested_filename == "referral.pdf"
    with open(download.path(), "rb") as fetched:
        assert fetched.read() == FILES["referral.pdf"]

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Archive x-ray.png").click()
    expect(rows).to_have_count(1)
    expect(page.get_by_role("status")).to_have_text("Archived x-ray.png.")
    screenshot("4-archived")

    # narrow, as on a phone: everything still reachable, nothing wider than the screen
    page.set_viewport_size({"width": 390, "height": 844})
    expect(page.get_by_role("button", name="Download referral.pdf")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot("5-phone")


def test_patients_are_found_by_name_and_paged(
    page: Any, server: LiveServer, runtime: Runtime, screenshot: Any
) -> None:
    tenant = make_tenant(runtime)
    for i in range(23):
        accounts.create_patient(
            runtime, account_id=tenant.account_id, first_name=f"Pat{i:02d}", last_name="Lee"
        )
    accounts.create_patient(
        runtime, account_id=tenant.account_id, first_name="Marie", last_name="Curie"
    )
    _sign_in(page, server, tenant.key)
    table = page.locator("#patients-table tbody tr")
    expect(table).to_have_count(20)
    expect(page.locator("#patients-page")).to_have_text("Page 1 of 2")
    page.get_by_role("button", name="Next").click()
    expect(page.locator("#patients-page")).to_have_text("Page 2 of 2")
    expect(table).to_have_count(5)
    screenshot("6-patients")
    page.get_by_label("Last name").first.fill("uri")
    page.get_by_role("button", name="Search").click()
    expect(table).to_have_count(1)
    expect(table).to_contain_text("Marie Curie")
    page.get_by_role("link", name="Marie Curie").click()
    expect(page.get_by_role("heading", name="Marie Curie")).to_be_visible()
    expect(page.locator("#attachments-empty")).to_be_visible()


def test_an_upload_can_be_cancelled_and_retried(
    page: Any, server: LiveServer, runtime: Runtime
) -> None:
    tenant = make_tenant(runtime)
    _sign_in(page, server, tenant.key)
    page.goto(f"{server.url}/app/#/patients/{tenant.patient_id}")
    expect(page.get_by_role("heading", name="Ada Lovelace")).to_be_visible()
    # throttle the network so that the upload is still running when Cancel is pressed
    session = page.context.new_cdp_session(page)
    session.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 200_000},
    )
    _drop(page, "#dropzone", {"big.pdf": samples.pdf() + b"\x00" * 2_000_000})
    upload = page.locator("#uploads li")
    expect(upload).to_contain_text("Uploading")
    upload.get_by_role("button", name="Cancel upload of big.pdf").click()
    expect(upload).to_contain_text("Cancelled")
    session.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    upload.get_by_role("button", name="Retry upload of big.pdf").click()
    expect(page.locator("#attachments-table tbody tr").filter(has_text="Processed")).to_have_count(
        1, timeout=30_000
    )


def test_a_wrong_key_is_refused_with_a_message(page: Any, server: LiveServer) -> None:
    page.goto(f"{server.url}/app/")
    page.get_by_label("API key").fill("0" * 64 + "-au1")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("status")).to_contain_text("Not signed in")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0


def test_every_control_is_labelled_and_reached_by_keyboard_in_order(
    page: Any, server: LiveServer, runtime: Runtime
) -> None:
    tenant = make_tenant(runtime)
    _sign_in(page, server, tenant.key)
    page.get_by_role("link", name="Ada Lovelace").click()
    expect(page.get_by_role("heading", name="Ada Lovelace")).to_be_visible()
    _drop(page, "#dropzone", {"letter.pdf": samples.pdf()})
    expect(page.get_by_role("button", name="Download letter.pdf")).to_be_visible(timeout=30_000)

    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, button, select, textarea')]
            .filter((el) => el.offsetParent !== null || el.type === 'file')
            .filter((el) => el.tagName === 'BUTTON'
                ? !(el.getAttribute('aria-label') || el.textContent.trim())
                : !(el.getAttribute('aria-label') || el.labels.length))
            .map((el) => el.outerHTML)"""
    )
    assert unlabelled == []

    page.reload()  # keyboard focus starts from the top of the page again
    expect(page.get_by_role("button", name="Download letter.pdf")).to_be_visible()
    reached = []
    for _ in range(30):
        page.keyboard.press("Tab")
        reached.append(
            page.evaluate(
                """() => { const el = document.activeElement;
                    return el.getAttribute('aria-label') || el.labels?.[0]?.textContent.trim()
                        || el.textContent.trim(); }"""
            )
        )
    expected = [
        "Skip to content",
        "clinifile",
        "Sign out",
        "← All patients",
        "Description for the files you add (optional)",
        "Choose files…",
        "Find files by name",
        "Show archived files",
        "Select every file on this page",
        "Select letter.pdf",
        "Edit description of letter.pdf",
        "View letter.pdf",
        "Download letter.pdf",
        "Archive letter.pdf",
    ]
    positions = [reached.index(name) for name in expected]
    assert positions == sorted(positions), reached
    # the focused file picker shows where focus is
    page.get_by_label("Choose files…").focus()
    outline = page.evaluate(
        "getComputedStyle(document.querySelector('#file-input').closest('label')).outlineStyle"
    )
    assert outline == "solid"


def test_a_file_name_that_is_html_is_shown_as_text(
    page: Any, server: LiveServer, runtime: Runtime
) -> None:
    tenant = make_tenant(runtime)
    _sign_in(page, server, tenant.key)
    page.goto(f"{server.url}/app/#/patients/{tenant.patient_id}")
    name = "<img src=x onerror=document.title='owned'>.pdf"
    _drop(page, "#dropzone", {name: samples.pdf()})
    row = page.locator("#attachments-table tbody tr").filter(has_text="Processed")
    expect(row).to_have_count(1, timeout=30_000)
    expect(row).to_contain_text(name)
    assert page.locator("#attachments-table img, #uploads img").count() == 0
    assert page.title() != "owned"


@pytest.mark.parametrize("settings_overrides", [{"max_file_size_bytes": 150_000}])
def test_a_file_over_the_servers_size_limit_is_refused_in_its_own_words(
    page: Any, server: LiveServer, runtime: Runtime
) -> None:
    # the trial's storage left (1 MB) is more than this server's file size limit (150 kB):
    # the page learns the limit from the presigned post, not from a default of its own
    trial = make_tenant(runtime, plan="trial", storage_limit_bytes=1_000_000)
    _sign_in(page, server, trial.key)
    page.goto(f"{server.url}/app/#/patients/{trial.patient_id}")
    expect(page.get_by_role("heading", name="Ada Lovelace")).to_be_visible()
    elsewhere: list[str] = []
    page.on(
        "request",
        lambda request: (
            None if request.url.startswith(server.url) else elsewhere.append(request.url)
        ),
    )
    _drop(page, "#dropzone", {"scan.pdf": b"\x00" * 300_000})
    refused = page.locator("#uploads li")
    expect(refused).to_contain_text(
        "Not uploaded: scan.pdf is 293 KB; one file may be at most 146 KB."
    )
    expect(refused.get_by_role("button", name=re.compile("Retry"))).to_be_hidden()
    expect(page.locator("#attachments-empty")).to_be_visible()
    assert elsewhere == [], "nothing may go to the object store"
