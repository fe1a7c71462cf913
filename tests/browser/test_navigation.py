"""Getting around the page as staff do: a patient link opened in a new tab, a patient that
does not exist, a search that survives a reload, and leaving or signing out while a file is
still being sent."""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.sync_api import expect

from clinifile.client import Client
from clinifile.runtime import Runtime
from clinifile.services import accounts
from tests import samples
from tests.browser.helpers import drop, sign_in, until
from tests.factories import make_tenant
from tests.live_server import LiveServer

SLOW = {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 100_000}
FAST = {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}


def test_a_patient_link_opened_in_a_new_tab_lands_on_that_patient_after_signing_in(
    page: Any, server: LiveServer, runtime: Runtime
) -> None:
    tenant = make_tenant(runtime)
    sign_in(page, server, tenant.key)
    link = page.get_by_role("link", name="Ada Lovelace")
    href = link.get_attribute("href")
    assert href == f"#/patients/{tenant.patient_id}"
    # a new tab has no sessionStorage of its own: it asks for the key, then goes on
    tab = page.context.new_page()
    tab.goto(f"{server.url}/app/{href}")
    expect(tab.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(tab).to_have_title("Sign in — clinifile")
    tab.get_by_label("API key").fill(tenant.key)
    tab.get_by_role("button", name="Sign in").click()
    expect(tab.get_by_role("heading", name="Ada Lovelace")).to_be_visible()
    expect(tab).to_have_title("Ada Lovelace — clinifile")
    assert tab.url.endswith(f"#/patients/{tenant.patient_id}")
    tab.close()


def test_an_unknown_patient_is_not_found_under_no_ones_name(
    page: Any, server: LiveServer, runtime: Runtime, screenshot: Any
) -> None:
    tenant = make_tenant(runtime)
    sign_in(page, server, tenant.key, f"#/patients/{tenant.patient_id}")
    expect(page.get_by_role("heading", name="Ada Lovelace")).to_be_visible()
    page.evaluate("location.hash = '#/patients/9999999'")
    expect(page.get_by_role("heading", name="Patient not found")).to_be_visible()
    expect(page.locator("#patient-details")).to_have_text(
        "There is no patient 9999999 in this account."
    )
    expect(page.get_by_text("Ada Lovelace")).to_have_count(0)
    expect(page.locator("#dropzone")).to_be_hidden()
    expect(page.locator("#attachments-table")).to_be_hidden()
    expect(page).to_have_title("Patient not found — clinifile")
    screenshot("nav-not-found")
    page.get_by_role("link", name="← All patients").click()
    expect(page).to_have_title("Patients — clinifile")
    page.go_back()
    expect(page.get_by_role("heading", name="Patient not found")).to_be_visible()


def test_an_archived_patient_takes_no_files(
    page: Any, server: LiveServer, runtime: Runtime
) -> None:
    tenant = make_tenant(runtime)
    archived = httpx.post(
        f"{server.url}/v1/patients/{tenant.patient_id}/archive",
        auth=(tenant.key, ""),
        headers={"User-Agent": "tests"},
    )
    assert archived.status_code == 204
    sign_in(page, server, tenant.key, f"#/patients/{tenant.patient_id}")
    expect(page.get_by_role("heading", name="Ada Lovelace")).to_be_visible()
    expect(page.get_by_text("This patient is archived: files cannot be added.")).to_be_visible()
    expect(page.locator("#dropzone")).to_be_hidden()


def test_the_patient_search_survives_a_reload_and_ignores_accents(
    page: Any, server: LiveServer, runtime: Runtime
) -> None:
    tenant = make_tenant(runtime)
    for first, last in (("José", "Núñez"), ("Ana", "Nunez-Ortiz"), ("Mark", "Smith")):
        accounts.create_patient(
            runtime, account_id=tenant.account_id, first_name=first, last_name=last
        )
    sign_in(page, server, tenant.key)
    page.get_by_label("Last name").first.fill("NUNEZ")
    page.get_by_role("button", name="Search").click()
    rows = page.locator("#patients-table tbody tr")
    expect(rows).to_have_count(2)
    expect(page.get_by_role("link", name="José Núñez")).to_be_visible()
    expect(page.get_by_role("link", name="Ana Nunez-Ortiz")).to_be_visible()
    expect(page).to_have_url(re.compile(r"#/patients\?last=NUNEZ$"))
    page.reload()
    expect(page.get_by_label("Last name").first).to_have_value("NUNEZ")
    expect(rows).to_have_count(2)
    page.go_back()  # the list before the search
    expect(rows).to_have_count(4)
    expect(page.get_by_label("Last name").first).to_have_value("")


def _start_a_slow_upload(page: Any, server: LiveServer, tenant: Any) -> Any:
    sign_in(page, server, tenant.key, f"#/patients/{tenant.patient_id}")
    expect(page.get_by_role("heading", name="Ada Lovelace")).to_be_visible()
    session = page.context.new_cdp_session(page)
    session.send("Network.emulateNetworkConditions", SLOW)
    drop(page, "#dropzone", {"big.pdf": samples.pdf() + b"\x00" * 2_000_000})
    expect(page.locator("#uploads li")).to_contain_text("Uploading")
    return session


def test_leaving_while_a_file_is_sent_asks_first(
    page: Any, server: LiveServer, runtime: Runtime
) -> None:
    tenant = make_tenant(runtime)
    session = _start_a_slow_upload(page, server, tenant)
    page.get_by_label("Find files by name").click()  # a person's click: the page may ask
    asked: list[str] = []

    def stay(dialog: Any) -> None:
        asked.append(dialog.type)
        dialog.dismiss()

    page.once("dialog", stay)
    page.close(run_before_unload=True)
    until(page, lambda: asked, what="the question before leaving")
    assert asked == ["beforeunload"]
    assert not page.is_closed()
    session.send("Network.emulateNetworkConditions", FAST)
    state = page.locator("#uploads .upload-state")
    expect(state).to_have_text("Processed", timeout=30_000)
    # nothing running: leaving asks nothing
    with page.expect_event("close", timeout=5_000):
        page.close(run_before_unload=True)


def test_signing_out_while_a_file_is_sent_asks_first_and_never_blames_the_key(
    page: Any, server: LiveServer, runtime: Runtime
) -> None:
    tenant = make_tenant(runtime)
    _start_a_slow_upload(page, server, tenant)
    questions: list[str] = []

    def answer(accept: bool) -> Any:
        def handle(dialog: Any) -> None:
            questions.append(dialog.message)
            if accept:
                dialog.accept()
            else:
                dialog.dismiss()

        return handle

    page.once("dialog", answer(False))
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#uploads li")).to_contain_text("Uploading")  # still signed in
    stopped: list[str] = []
    page.on("requestfailed", lambda request: stopped.append(request.url))
    page.once("dialog", answer(True))
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert (
        questions
        == [
            "1 upload still running. Signing out stops it: files not yet uploaded are not kept. "
            "Sign out?"
        ]
        * 2
    )
    until(page, lambda: stopped, what="the upload in flight to stop")
    expect(page.get_by_role("status")).to_have_text("")
    assert page.evaluate("sessionStorage.length") == 0
    with Client(tenant.key, server.url) as client:  # the key was fine all along
        assert list(client.attachments(archived_at="*")) == []
    # and signing in again with it works
    page.get_by_label("API key").fill(tenant.key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Patients")).to_be_visible()
