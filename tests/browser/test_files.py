"""A patient's files as staff use them: a table that holds its layout with any name and type,
types as people say them, archived files shown and brought back, descriptions given and
edited, sorting and finding by name, PDFs and images viewed in a tab, several files downloaded
at once, the storage left in sight, one date format, plurals, and an upload panel that can be
cleared and retried as a whole."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import expect
from sqlalchemy import text

from clinifile.client import Client
from clinifile.runtime import Runtime
from tests import samples
from tests.browser.conftest import SCREENSHOTS
from tests.browser.helpers import OVERFLOW, drop, sign_in, until
from tests.factories import Tenant, make_tenant
from tests.live_server import LiveServer

WORD = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
SLIDES = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
UNKNOWN = "application/vnd.oasis.opendocument.presentation-template"
LONGEST_NAME = "Ü" * 125 + "x.pdf"  # 255 bytes, no space to break at
LONGEST_DESCRIPTION = "Befund" * 42 + "abc"  # 255 characters, one word


def _files(
    server: LiveServer, tenant: Tenant, tmp_path: Path, names: dict[str, bytes], **extra: Any
) -> dict[str, str]:
    """Uploads each file through the client and waits until it is processed: name → id."""
    ids = {}
    with Client(tenant.key, server.url) as client:
        for name, content in names.items():
            path = tmp_path / "files" / name
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(content)
            ids[name] = str(client.upload(tenant.patient_id, path, wait=True, **extra)["id"])
    return ids


def _set(runtime: Runtime, attachment_id: str, **columns: Any) -> None:
    """Gives a stored file what a real one of that kind would have (a type the tests cannot
    cheaply make the bytes of)."""
    assignments = ", ".join(f"{name} = :{name}" for name in columns)
    with runtime.engine.begin() as conn:
        conn.execute(
            text(f"UPDATE attachments SET {assignments} WHERE id = :id"),
            {**columns, "id": int(attachment_id)},
        )


def _open(page: Any, server: LiveServer, tenant: Tenant) -> None:
    sign_in(page, server, tenant.key, f"#/patients/{tenant.patient_id}")
    expect(page.get_by_role("heading", name="Ada Lovelace")).to_be_visible()


def _rows(page: Any) -> Any:
    return page.locator("#attachments-table tbody tr")


def _names(page: Any) -> Any:
    return page.locator("#attachments-table tbody .name")


# --- 3: the layout with the longest names and types ----------------------------------------


def test_the_files_table_holds_its_layout_at_1280_and_390_pixels_with_any_name_and_type(
    page: Any, server: LiveServer, runtime: Runtime, tmp_path: Path, screenshot: Any
) -> None:
    tenant = make_tenant(runtime)
    ids = _files(
        server,
        tenant,
        tmp_path,
        {
            LONGEST_NAME: samples.pdf(),
            "Überweisung an Dr. Müller.docx": b"x" * 1023,  # 1023 bytes: the widest size
            "Vortrag.pptx": b"slides",
            "Vorlage.otp": b"template",
            "x-ray.png": samples.png(),
        },
        description=LONGEST_DESCRIPTION,
    )
    _set(runtime, ids["Überweisung an Dr. Müller.docx"], content_type=WORD)
    _set(runtime, ids["Vortrag.pptx"], content_type=SLIDES)
    _set(runtime, ids["Vorlage.otp"], content_type=UNKNOWN)
    _set(runtime, ids["x-ray.png"], archived_at="2026-11-20 10:00:00")
    _open(page, server, tenant)
    page.get_by_label("Show archived files").check()
    rows = _rows(page)
    expect(rows).to_have_count(5)
    # types as people say them, the exact type on hover
    for name, said, exact in (
        ("Überweisung an Dr. Müller.docx", "Word document", WORD),
        ("Vortrag.pptx", "PowerPoint presentation", SLIDES),
        ("Vorlage.otp", "OTP file", UNKNOWN),
        (LONGEST_NAME, "PDF", "application/pdf"),
    ):
        shown = rows.filter(has_text=name).locator("td[data-label=Type] span")
        expect(shown).to_have_text(said)
        expect(shown).to_have_attribute("title", exact)
    expect(rows.filter(has_text="x-ray.png")).to_contain_text("Archived")
    drop(page, "#dropzone", {"Ü" * 120 + ".pdf": b""})  # a refusal in the panel too
    expect(page.locator("#uploads li")).to_contain_text("is empty")

    for width, height in ((1280, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        for name in ("Download", "Archive", "Unarchive", "View"):
            for button in page.get_by_role("button", name=re.compile(f"^{name} ")).all():
                expect(button).to_be_visible()
        assert page.evaluate(OVERFLOW) == [], f"at {width}px"
        screenshot(f"files-layout-{width}")
        table = SCREENSHOTS / f"files-layout-{width}-table.png"
        page.locator("#attachments-table").screenshot(path=str(table))

    # after archiving at phone width, nothing is left scrolled away
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Archive Vortrag.pptx").click()
    expect(page.get_by_role("status")).to_have_text("Archived Vortrag.pptx.")
    assert page.evaluate(OVERFLOW) == []
    assert page.evaluate("document.querySelector('.scroll').scrollLeft") == 0


# --- 9: archived files shown, and unarchived -----------------------------------------------


def test_an_archived_file_is_shown_on_request_and_unarchived(
    page: Any, server: LiveServer, runtime: Runtime, tmp_path: Path
) -> None:
    tenant = make_tenant(runtime)
    _files(server, tenant, tmp_path, {"letter.pdf": samples.pdf(), "x-ray.png": samples.png()})
    _open(page, server, tenant)
    rows = _rows(page)
    expect(rows).to_have_count(2)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Archive x-ray.png").click()
    expect(rows).to_have_count(1)
    page.get_by_label("Show archived files").check()
    expect(rows).to_have_count(2)
    archived = rows.filter(has_text="x-ray.png")
    expect(archived).to_contain_text("Archived")
    expect(archived.get_by_role("button", name="Archive x-ray.png", exact=True)).to_have_count(0)
    archived.get_by_role("button", name="Unarchive x-ray.png").click()
    expect(page.get_by_role("status")).to_have_text("Unarchived x-ray.png: it is back in the list.")
    expect(archived).to_contain_text("Processed")
    page.get_by_label("Show archived files").uncheck()
    expect(rows).to_have_count(2)
    with Client(tenant.key, server.url) as client:
        actions = [e["action"] for e in client.audit_events(sort="id")]
    assert actions[-2:] == ["patient_attachment.archive", "patient_attachment.unarchive"]


# --- 10: descriptions ------------------------------------------------------------------------


def test_a_description_given_at_upload_is_edited_on_its_row(
    page: Any, server: LiveServer, runtime: Runtime
) -> None:
    tenant = make_tenant(runtime)
    _open(page, server, tenant)
    page.get_by_label("Description for the files you add (optional)").fill("Referral, Dr Müller")
    drop(page, "#dropzone", {"letter.pdf": samples.pdf()})
    row = _rows(page).filter(has_text="letter.pdf")
    expect(row.locator(".description-text")).to_have_text("Referral, Dr Müller")
    row.get_by_role("button", name="Edit description of letter.pdf").click()
    field = row.get_by_label("Description of letter.pdf", exact=True)
    expect(field).to_be_focused()
    field.fill("Knee, second opinion")
    page.keyboard.press("Escape")  # changed its mind
    expect(row.locator(".description-text")).to_have_text("Referral, Dr Müller")
    row.get_by_role("button", name="Edit description of letter.pdf").click()
    row.get_by_label("Description of letter.pdf", exact=True).fill("Knee, second opinion")
    page.keyboard.press("Enter")
    expect(row.locator(".description-text")).to_have_text("Knee, second opinion")
    expect(page.get_by_role("status")).to_have_text("Description of letter.pdf saved.")
    with Client(tenant.key, server.url) as client:
        [record] = list(client.attachments(tenant.patient_id))
    assert record["description"] == "Knee, second opinion"


# --- 11: sort, find, view, download several --------------------------------------------------


def test_files_sort_by_their_column_headers_and_are_found_by_name(
    page: Any, server: LiveServer, runtime: Runtime, tmp_path: Path
) -> None:
    tenant = make_tenant(runtime)
    _files(
        server,
        tenant,
        tmp_path,
        {
            "b-report.pdf": b"%PDF-1.4" + b"b" * 50,
            "a-letter.pdf": samples.pdf(),
            "c-scan.png": samples.png() + b"\x00" * 1000,
        },
    )
    _open(page, server, tenant)
    expect(_rows(page)).to_have_count(3)
    expect(_names(page)).to_have_text(["c-scan.png", "a-letter.pdf", "b-report.pdf"])  # newest
    header = page.locator("#attachments-table th[data-sort=filename]")
    header.get_by_role("button", name="File").click()
    expect(header).to_have_attribute("aria-sort", "ascending")
    expect(_names(page)).to_have_text(["a-letter.pdf", "b-report.pdf", "c-scan.png"])
    header.get_by_role("button", name="File").click()
    expect(header).to_have_attribute("aria-sort", "descending")
    expect(_names(page)).to_have_text(["c-scan.png", "b-report.pdf", "a-letter.pdf"])
    page.locator("#attachments-table th[data-sort=size]").get_by_role("button").click()
    expect(_names(page)).to_have_text(["c-scan.png", "a-letter.pdf", "b-report.pdf"])  # largest
    page.get_by_label("Find files by name").fill("LETTER")
    expect(_rows(page)).to_have_count(1)
    expect(_rows(page)).to_contain_text("a-letter.pdf")
    page.get_by_label("Find files by name").fill("nothing like it")
    expect(page.get_by_text("No files match.")).to_be_visible()


def test_view_opens_a_pdf_or_an_image_in_a_tab_and_never_a_page_that_would_run(
    page: Any, server: LiveServer, runtime: Runtime, tmp_path: Path
) -> None:
    tenant = make_tenant(runtime)
    html = b"<!doctype html><script>document.title='ran'</script>"
    _files(server, tenant, tmp_path, {"scan.pdf": samples.pdf("view me"), "page.html": html})
    _open(page, server, tenant)
    expect(page.get_by_role("button", name="View page.html")).to_have_count(0)
    with page.context.expect_page() as opened:
        page.get_by_role("button", name="View scan.pdf").click()
    tab = opened.value
    tab.wait_for_load_state("commit")
    assert "response-content-disposition=inline" in tab.url
    shown = httpx.get(tab.url, timeout=30)
    assert shown.content == samples.pdf("view me")
    assert shown.headers["content-disposition"].startswith("inline;")
    tab.close()


def test_several_selected_files_download_at_once(
    page: Any, server: LiveServer, runtime: Runtime, tmp_path: Path
) -> None:
    tenant = make_tenant(runtime)
    contents = {"a.pdf": samples.pdf("a"), "b.png": samples.png(), "c.txt": samples.TEXT}
    _files(server, tenant, tmp_path, contents)
    _open(page, server, tenant)
    download_button = page.locator("#download-selected")
    expect(download_button).to_be_disabled()
    page.get_by_label("Select a.pdf").check()
    page.get_by_label("Select c.txt").check()
    expect(download_button).to_have_text("Download 2 selected files")
    downloads: list[Any] = []
    page.on("download", lambda download: downloads.append(download))
    # the store answers the first file only once the second has been asked for: a slow
    # answer must not cost the other download (one page navigating twice would drop it)
    held: list[Any] = []

    def hold_the_first(route: Any) -> None:
        if route.request.resource_type == "document" and not held:
            held.append(route)
        else:
            route.continue_()

    page.route(lambda url: not url.startswith(server.url), hold_the_first)
    download_button.click()
    expect(page.get_by_role("status")).to_have_text("Downloading 2 files.")
    until(page, lambda: len(downloads) == 1, what="the second download")
    held[0].continue_()
    until(page, lambda: len(downloads) == 2, what="two downloads")
    got = {d.suggested_filename: Path(d.path()).read_bytes() for d in downloads}
    assert got == {"a.pdf": contents["a.pdf"], "c.txt": contents["c.txt"]}
    page.get_by_label("Select every file on this page").check()
    expect(download_button).to_have_text("Download 3 selected files")


# --- 12: storage ---------------------------------------------------------------------------


def test_the_storage_used_and_left_is_in_sight_and_follows_uploads(
    page: Any, server: LiveServer, runtime: Runtime
) -> None:
    trial = make_tenant(runtime, plan="trial", storage_limit_bytes=1_000_000)
    _open(page, server, trial)
    storage = page.locator("#storage-text")
    expect(storage).to_have_text("Storage: 0 bytes of 977 KB used · 977 KB left")
    drop(page, "#dropzone", {"scan.pdf": samples.pdf() + b"\x00" * 102_400})
    expect(storage).to_have_text(re.compile(r"^Storage: 100 KB of 977 KB used · 87\d KB left$"))
    assert page.locator("#storage-meter").evaluate("m => m.value") > 100_000
    page.get_by_role("link", name="← All patients").click()
    expect(storage).to_be_visible()


# --- 14: one date format, plurals, a panel that clears -------------------------------------


def test_dates_follow_the_browsers_locale_and_counts_their_plurals(
    chromium: Any, server: LiveServer, runtime: Runtime, tmp_path: Path
) -> None:
    tenant = make_tenant(runtime)
    httpx.post(
        f"{server.url}/v1/patients",
        json={"first_name": "Grace", "last_name": "Hopper", "date_of_birth": "1906-12-09"},
        auth=(tenant.key, ""),
        headers={"User-Agent": "tests"},
    ).raise_for_status()
    _files(server, tenant, tmp_path, {"letter.pdf": samples.pdf()})
    context = chromium.new_context(locale="de-DE", timezone_id="Europe/Berlin")
    page = context.new_page()
    try:
        sign_in(page, server, tenant.key)
        expect(page.get_by_role("link", name="Grace Hopper")).to_be_visible()
        expect(page.locator("#patients-table tbody")).to_contain_text("09.12.1906")
        page.get_by_role("link", name="Grace Hopper").click()
        expect(page.locator("#patient-details")).to_have_text("born 09.12.1906")
        page.goto(f"{server.url}/app/#/patients/{tenant.patient_id}")
        uploaded = page.locator("#attachments-table td[data-label=Uploaded]")
        expect(uploaded).to_have_text(re.compile(r"^\d\d\.\d\d\.\d{4}, \d\d:\d\d$"))
        expect(page.locator("#attachments-page")).to_have_text("Page 1 of 1 (1 file)")
    finally:
        context.close()


def test_the_upload_panel_retries_every_failed_file_at_once_and_clears(
    page: Any, server: LiveServer, runtime: Runtime
) -> None:
    tenant = make_tenant(runtime)
    _open(page, server, tenant)
    store = re.compile(r"^http://127\.0\.0\.1:\d+/[^/]+-au1/$")  # the bucket's POSTs
    page.route(store, lambda route: route.abort("connectionrefused"))
    drop(
        page, "#dropzone", {"a.pdf": samples.pdf("a"), "b.pdf": samples.pdf("b"), "blank.pdf": b""}
    )
    items = page.locator("#uploads li")
    expect(items.filter(has_text="Failed: the file store cannot be reached")).to_have_count(2)
    blank = items.filter(has_text="blank.pdf")
    expect(blank).to_contain_text(
        "Not uploaded: blank.pdf is empty (0 bytes): there is nothing to upload."
    )
    expect(blank.get_by_role("button", name=re.compile("Retry"))).to_be_hidden()
    page.unroute(store)
    page.get_by_role("button", name="Retry 2 failed uploads").click()
    done = page.locator("#uploads .upload-state").filter(has_text=re.compile("^Processed$"))
    expect(done).to_have_count(2, timeout=30_000)
    expect(page.locator("#uploads-summary")).to_have_text("2 of 3 files processed · 1 not done")
    page.get_by_role("button", name="Clear finished").click()
    expect(items).to_have_count(0)
    expect(page.locator("#uploads-bar")).to_be_hidden()
