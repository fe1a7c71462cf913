"""Previews on the page, in Chromium: thumbnails beside the files (alt text: the file's name),
and the viewer opened from one, moved through and closed by keyboard (focus back on the row)
and by touch at phone width. Screenshots in test-output/browser/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from clinifile.client import Client
from clinifile.runtime import Runtime
from clinifile.worker.previewing import make_previews
from tests import preview_samples as ps
from tests.browser.helpers import OVERFLOW, drop, sign_in, until
from tests.factories import Tenant, make_tenant, wait_for
from tests.live_server import LiveServer

FILES = {
    "hand.png": lambda: ps.image_bytes("PNG"),
    "referral.pdf": ps.pdf_with_red_square,
    "notes.txt": lambda: b"no preview for words\n",
}


def _stored(server: LiveServer, tenant: Tenant, tmp_path: Path) -> dict[str, str]:
    """Uploads the files in order and waits for the previews the worker makes after each."""
    ids = {}
    with Client(tenant.key, server.url) as client:
        for name, make in FILES.items():
            path = tmp_path / name
            path.write_bytes(make())
            ids[name] = str(client.upload(tenant.patient_id, path, wait=True)["id"])
        for name in ("hand.png", "referral.pdf"):
            wait_for(lambda n=name: client.attachment(ids[n])["preview"], timeout=60)
    return ids


def _loaded(page: Any, selector: str) -> bool:
    return bool(
        page.evaluate(
            "(s) => { const i = document.querySelector(s);"
            " return !!i && i.complete && i.naturalWidth > 0; }",
            selector,
        )
    )


def _focused_label(page: Any) -> str | None:
    return page.evaluate("() => document.activeElement?.getAttribute('aria-label')")  # type: ignore[no-any-return]


def test_thumbnails_and_the_viewer_by_keyboard(
    page: Any, server: LiveServer, runtime: Runtime, tmp_path: Path, screenshot: Any
) -> None:
    tenant = make_tenant(runtime)
    _stored(server, tenant, tmp_path)
    sign_in(page, server, tenant.key, f"#/patients/{tenant.patient_id}")
    expect(page.locator("#attachments-table tbody tr")).to_have_count(3)
    for name in ("hand.png", "referral.pdf"):
        thumb = page.locator(f'#attachments-table img[alt="{name}"]')
        expect(thumb).to_have_attribute("loading", "lazy")
        until(
            page,
            lambda n=name: _loaded(page, f'#attachments-table img[alt="{n}"]'),
            what=f"{name}'s thumbnail",
        )
    # a file with no preview has no thumbnail to open
    expect(page.get_by_role("button", name="Preview notes.txt")).to_have_count(0)
    screenshot("previews-thumbnails")

    opener = page.get_by_role("button", name="Preview hand.png")
    opener.focus()
    page.keyboard.press("Enter")
    viewer = page.get_by_role("dialog", name="hand.png")
    expect(viewer).to_be_visible()
    until(page, lambda: _loaded(page, "#viewer .viewer-image img"), what="the large preview")
    expect(viewer.get_by_role("button", name="Download")).to_be_visible()
    expect(viewer.locator(".viewer-details")).to_contain_text("PNG")
    width = page.evaluate("() => document.querySelector('#viewer .viewer-image img').naturalWidth")
    assert width == 800  # the large preview, not the thumbnail
    screenshot("previews-viewer")

    # newest first, as the table: notes.txt, referral.pdf, hand.png
    page.keyboard.press("ArrowLeft")
    expect(page.get_by_role("dialog", name="referral.pdf")).to_be_visible()
    page.keyboard.press("ArrowLeft")
    expect(page.get_by_role("dialog", name="notes.txt")).to_be_visible()
    expect(page.locator("#viewer .viewer-none")).to_be_visible()
    page.keyboard.press("ArrowLeft")  # the first: stays
    expect(page.get_by_role("dialog", name="notes.txt")).to_be_visible()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("dialog", name="referral.pdf")).to_be_visible()
    until(page, lambda: _loaded(page, "#viewer .viewer-image img"), what="the PDF's preview")
    screenshot("previews-viewer-pdf")
    page.keyboard.press("Escape")
    expect(page.locator("#viewer")).to_be_hidden()
    assert _focused_label(page) == "Preview hand.png"


def test_the_viewer_at_phone_width_by_touch(
    page: Any, server: LiveServer, runtime: Runtime, tmp_path: Path, screenshot: Any
) -> None:
    tenant = make_tenant(runtime)
    _stored(server, tenant, tmp_path)
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, server, tenant.key, f"#/patients/{tenant.patient_id}")
    page.get_by_role("button", name="Preview referral.pdf").click()
    viewer = page.get_by_role("dialog", name="referral.pdf")
    expect(viewer).to_be_visible()
    until(page, lambda: _loaded(page, "#viewer .viewer-image img"), what="the large preview")
    box = page.evaluate(
        "() => { const r = document.querySelector('#viewer').getBoundingClientRect();"
        " return [r.left, r.right, document.documentElement.clientWidth]; }"
    )
    assert box[0] >= -0.5 and box[1] <= box[2] + 0.5, box
    assert page.evaluate(OVERFLOW) == []
    screenshot("previews-viewer-phone")
    viewer.get_by_role("button", name="Next").click()
    expect(page.get_by_role("dialog", name="hand.png")).to_be_visible()
    viewer = page.get_by_role("dialog", name="hand.png")
    viewer.get_by_role("button", name="Close the viewer").click()
    expect(page.locator("#viewer")).to_be_hidden()
    assert _focused_label(page) == "Preview referral.pdf"


# this server's worker makes no previews: the test makes the one preview itself, late
@pytest.mark.parametrize("settings_overrides", [{"preview_enabled": False}])
def test_a_preview_made_after_processing_shows_without_a_reload(
    page: Any, server: LiveServer, runtime: Runtime
) -> None:
    tenant = make_tenant(runtime)
    sign_in(page, server, tenant.key, f"#/patients/{tenant.patient_id}")
    expect(page.get_by_role("heading", name="Ada Lovelace")).to_be_visible()
    drop(page, "#dropzone", {"hand.png": ps.image_bytes("PNG")})
    # listed as processed, with no thumbnail: the page has seen the processing end
    expect(page.get_by_label("Select hand.png")).to_be_enabled(timeout=60_000)
    row = page.locator("#attachments-table tbody tr", has_text="hand.png")
    expect(row.locator(".thumb-none")).to_have_count(1)
    attachment_id = int(row.get_attribute("data-id") or 0)
    assert make_previews(runtime, attachment_id) == "ready"
    expect(page.get_by_role("button", name="Preview hand.png")).to_be_visible()
    until(page, lambda: _loaded(page, "#attachments-table img[alt='hand.png']"), what="thumbnail")
