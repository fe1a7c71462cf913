"""Hostile file names through the whole flow: the object key is what the client chose, so
the name either never becomes an attachment (the store or step 3 refuses it, nothing
changes) or it is stored and served safely: no path separators, control or bidi
characters, at most 255 bytes, never empty, a Content-Disposition that is plain ASCII,
and a permanent key inside the attachment's own prefix."""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

import httpx
import pytest

from clinifile.db import attachments as attachments_db
from clinifile.runtime import Runtime
from tests import samples
from tests.factories import Api, Tenant, s3_post
from tests.security.snapshot import snapshot

STORE_REFUSES = "the store refuses the key"

# name → the stored filename, or None when step 3 must refuse the upload, or STORE_REFUSES
# (SeaweedFS: "." or ".." segments, NUL, a path segment over 255 bytes; the truncation of long names
# that a store does accept is in tests/unit/test_filenames.py)
ACCEPTED_OR_REFUSED: dict[str, str | None] = {
    "a/b.pdf": None,
    "../../../etc/passwd": STORE_REFUSES,
    "..": STORE_REFUSES,
    ".": STORE_REFUSES,
    "": None,
    "nul\x00byte.pdf": STORE_REFUSES,
    "tab\there.pdf": None,
    "new\nline.pdf": None,
    "carriage\rreturn.pdf": None,
    "\x1b[31mred.pdf": None,
    "del\x7f.pdf": None,
    "back\\slash.pdf": "back_slash.pdf",
    "..\\..\\windows.pdf": STORE_REFUSES,
    "a\\..\\b.pdf": STORE_REFUSES,
    'double"quote.pdf': 'double"quote.pdf',
    "single'quote.pdf": "single'quote.pdf",
    "semi;colon=value.pdf": "semi;colon=value.pdf",
    "\u202egnp.exe.pdf": "gnp.exe.pdf",  # right-to-left override
    "mark\u200f\u200eed.pdf": "marked.pdf",  # right-to-left and left-to-right marks
    "zero\u200bwidth.pdf": "zerowidth.pdf",
    "emoji 🩺 scan.pdf": "emoji 🩺 scan.pdf",
    "Überweisung (1).pdf": "Überweisung (1).pdf",
    "  padded  .pdf  ": "padded  .pdf",
    "x" * 251 + ".pdf": "x" * 251 + ".pdf",
    "é" * 125 + ".pdf": "é" * 125 + ".pdf",
    "x" * 300 + ".pdf": STORE_REFUSES,
    "é" * 200 + ".pdf": STORE_REFUSES,
    "%2e%2e": "%2e%2e",
    "<img src=x onerror=alert(1)>.pdf": "<img src=x onerror=alert(1)>.pdf",
}

SAFE_DISPOSITION = re.compile(r"^attachment; filename\*=UTF-8''[A-Za-z0-9%._~-]*$")


def _upload_with_key(api: Api, tenant: Tenant, name: str) -> tuple[str, httpx.Response]:
    """Step 2 with the key field set to the temp prefix + name, exactly as a client may."""
    post = api.presign(tenant)
    key = post["fields"]["key"].replace("${filename}", name)
    return key, s3_post(post, "upload", samples.pdf(), key=key)


@pytest.mark.parametrize("name", ACCEPTED_OR_REFUSED)
def test_hostile_file_name(api: Api, tenant: Tenant, runtime: Runtime, name: str) -> None:
    expected = ACCEPTED_OR_REFUSED[name]
    before = snapshot(runtime)
    key, stored = _upload_with_key(api, tenant, name)
    if expected == STORE_REFUSES:
        assert stored.status_code == 400, stored.text
        assert snapshot(runtime) == before
        return
    url = api.runtime.store("au1").bucket_url + quote(key, safe="/")
    if expected is None:
        before = snapshot(runtime)
        assert stored.status_code == 201, stored.text
        response = api.register(tenant, url)
        assert response.status_code == 422, response.text
        assert response.json()["errors"] == {"temp_attachment_url": "is invalid"}
        assert snapshot(runtime) == before
        return

    assert stored.status_code == 201, stored.text
    response = api.register(tenant, url)
    assert response.status_code == 201, response.text
    api.process_all()
    record = api.get(tenant, response.json()["id"])
    assert record["processing_completed"] is True
    assert record["filename"] == expected
    assert 0 < len(expected.encode()) <= 255

    with runtime.sessions() as session:
        row = attachments_db.get(session, tenant.account_id, int(record["id"]))
        assert row is not None
    prefix = f"{tenant.account_id}/patients/{tenant.patient_id}/attachments/{record['id']}/"
    assert row.permanent_key == prefix + expected
    assert "/" not in row.permanent_key.removeprefix(prefix)

    download = api.download(tenant, record["id"])
    assert download.status_code == 200
    assert download.content == samples.pdf()
    disposition = download.headers["content-disposition"]
    assert SAFE_DISPOSITION.match(disposition), disposition
    assert unquote(disposition.split("''", 1)[1]) == expected
