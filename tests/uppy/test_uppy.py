"""The real @uppy/core + @uppy/aws-s3 (multipart mode, pinned in package-lock.json) upload a
50 MiB file through clinifile's multipart endpoints with the glue of docs/UPPY.md (glue.js),
pause and resume it (Uppy asks listParts), and register it; another is cancelled and Uppy
aborts it.

Uppy runs in Chromium, not in Node: its part uploads use XMLHttpRequest (Node has none) and
its packages want Node 22 while Debian's is 20; a browser is also where Uppy is used. esbuild
(pinned beside it) bundles entry.js into one script that a page the test serves at the
server's own origin loads, so the API needs no CORS; the parts go to the bucket with the
bucket's CORS rules, as the staff page's do. Node and npm are needed to install and bundle:
without them the test skips saying so, and fails under CI=true."""

from __future__ import annotations

import fcntl
import hashlib
import math
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.staticfiles import StaticFiles

from clinifile.runtime import Runtime
from tests.browser.conftest import chromium, page
from tests.conftest import database_url
from tests.factories import Tenant, make_tenant, wait_for
from tests.live_server import LiveServer, server
from tests.services import missing_service

__all__ = ["chromium", "database_url", "page", "server"]  # on SQLite and PostgreSQL

HERE = Path(__file__).parent
MiB = 1024 * 1024
SIZE = 50 * MiB
PAGE = """<!doctype html><meta charset="utf-8"><title>Uppy</title>
<input id="file" type="file"><script src="bundle.js"></script>"""


def _install() -> None:
    """npm ci once (other test processes wait for it), when node_modules is missing."""
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        missing_service(
            f"the Uppy test needs {' and '.join(missing)} (apt-get install nodejs npm) to "
            "install @uppy/core and @uppy/aws-s3 from tests/uppy/package-lock.json"
        )
    with open(HERE / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (HERE / "node_modules" / "@uppy" / "aws-s3" / "package.json").exists():
            subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True, timeout=600
            )


@pytest.fixture(scope="session")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the test's page and its one script."""
    _install()
    folder = tmp_path_factory.mktemp("uppy")
    subprocess.run(
        ["node", str(HERE / "bundle.mjs"), str(folder / "bundle.js")], check=True, timeout=120
    )
    (folder / "index.html").write_text(PAGE)
    return folder


def _open_page(page: Any, server: LiveServer, bundle: Path) -> None:
    """The test's page, served by this test's server at its own origin: the API needs no
    CORS, and Chromium sees a loopback page send parts to a loopback store (a page of no
    address, e.g. one Playwright fulfils, may not reach the loopback address space)."""
    server.app.mount("/uppy-test", StaticFiles(directory=bundle, html=True))
    page.goto(f"{server.url}/uppy-test/")


def _file(tmp_path: Path, name: str, size: int) -> tuple[Path, str]:
    data = os.urandom(size)
    path = tmp_path / name
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


def _api(server: LiveServer, tenant: Tenant, method: str, path: str) -> httpx.Response:
    return httpx.request(method, f"{server.url}{path}", auth=(tenant.key, ""), timeout=30)


def test_uppy_uploads_a_50_mib_file_through_the_multipart_endpoints(
    page: Any, server: LiveServer, runtime: Runtime, tmp_path: Path, bundle: Path
) -> None:
    tenant = make_tenant(runtime)
    path, sha256 = _file(tmp_path, "gait.mp4", SIZE)
    _open_page(page, server, bundle)
    page.locator("#file").set_input_files(path)
    result = page.evaluate(
        "(options) => window.uploadWithUppy(options)",
        {"apiKey": tenant.key, "patientId": tenant.patient_id, "pauseAfterParts": 2},
    )
    assert "error" not in result, result
    assert result["paused"], "the upload ended before it could be paused: it tested nothing"
    calls = result["calls"]
    assert calls["createMultipartUpload"] == 1
    assert calls.get("listParts", 0) >= 1, "resuming did not ask what the store holds"
    assert calls["completeMultipartUpload"] == 1
    assert "abortMultipartUpload" not in calls
    count = math.ceil(SIZE / (5 * MiB))  # the server's part size for 50 MiB: 5 MiB
    assert len(result["parts"]) == len(set(result["parts"])), "a part reported twice"
    # resumed from what the store held: those parts were not sent again, the rest were
    listed, after = set(result["listed"]), result["afterListing"]
    assert listed and listed.isdisjoint(after), (listed, after)
    assert sorted(listed | set(after)) == list(range(1, count + 1))

    record_id = result["record"]["id"]

    def settled() -> dict[str, Any] | None:
        record: dict[str, Any] = _api(
            server, tenant, "GET", f"/v1/patient_attachments/{record_id}"
        ).json()
        return None if record["processing_state"] in {"pending", "processing"} else record

    record = wait_for(settled, timeout=120, interval=1.0)
    assert record["processing_completed"], record
    assert (record["filename"], record["size"], record["checksum_sha256"]) == (
        "gait.mp4",
        SIZE,
        sha256,
    )


def test_uppy_cancelling_aborts_the_multipart_upload(
    page: Any, server: LiveServer, runtime: Runtime, tmp_path: Path, bundle: Path
) -> None:
    tenant = make_tenant(runtime)
    path, _ = _file(tmp_path, "study.dcm", 30 * MiB)
    _open_page(page, server, bundle)
    page.locator("#file").set_input_files(path)
    result = page.evaluate(
        "(options) => window.cancelWithUppy(options)",
        {"apiKey": tenant.key, "patientId": tenant.patient_id},
    )
    assert result.get("aborted"), result
    upload = f"/v1/attachment_multipart_uploads/{result['uploadId']}"
    assert _api(server, tenant, "GET", upload).status_code == 409
    refused = httpx.post(
        f"{server.url}{upload}/part_urls",
        json={"numbers": [1]},
        auth=(tenant.key, ""),
        timeout=30,
    )
    assert refused.status_code == 409, refused.text
