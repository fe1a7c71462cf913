"""What a staff member does on the page, for the browser tests: sign in, drop files, and
measure what sticks out of the screen."""

from __future__ import annotations

import base64
import time
from typing import Any

from playwright.sync_api import expect

from tests.live_server import LiveServer


def sign_in(page: Any, server: LiveServer, key: str, where: str = "") -> None:
    """Signs in as a person types the key; `where` is the address it starts from."""
    page.goto(f"{server.url}/app/{where}")
    expect(page.get_by_label("API key")).to_be_focused()
    page.keyboard.type(key)
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def drop(page: Any, selector: str, files: dict[str, bytes]) -> None:
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


# Everything of the page wider than the window, or cut inside its own box: the page itself,
# the table's scroller, every cell, header and button of the files and patients tables, the
# upload panel's rows.
OVERFLOW = """() => {
    const width = document.documentElement.clientWidth;
    const found = [];
    const page = document.documentElement.scrollWidth;
    if (page > width) found.push(`the page is ${page}px wide in ${width}px`);
    const selectors = ['.scroll', 'table td', 'table th', 'table button', '.upload',
                       '.upload button', '.toolbar button', '#storage'];
    for (const el of document.querySelectorAll(selectors.join(','))) {
        if (el.offsetParent === null) continue;
        const box = el.getBoundingClientRect();
        const text = el.textContent.trim().slice(0, 40);
        const name = `${el.tagName.toLowerCase()} ${el.dataset.label ?? ''} ${text}`;
        if (el.scrollWidth > el.clientWidth + 1) {
            found.push(`${name}: ${el.scrollWidth}px of content in ${el.clientWidth}px`);
        }
        if (box.right > width + 0.5 || box.left < -0.5) {
            found.push(`${name}: spans ${box.left}..${box.right} of ${width}px`);
        }
    }
    return found;
}"""


def until(page: Any, predicate: Any, timeout: float = 20.0, what: str = "condition") -> None:
    """Waits for predicate() while Playwright delivers the page's events (a plain sleep
    would hold them back); fails at the deadline."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout}s")
        page.wait_for_timeout(50)
