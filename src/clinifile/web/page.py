"""Serves the staff page at /app and sets its Content-Security-Policy: scripts, styles and
API calls from this server only, uploads to the regions' buckets only."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles

from clinifile.runtime import Runtime

STATIC = Path(__file__).parent / "static"
PREFIX = "/app"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(runtime: Runtime) -> str:
    buckets = " ".join(sorted({_origin(store.bucket_url) for store in runtime.stores.values()}))
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            # previews are shown from the buckets (presigned GETs of image/webp objects)
            f"img-src 'self' data: {buckets}",
            f"connect-src 'self' {buckets}",
            # downloads, each in a hidden sandboxed frame (files.js, downloadInFrame)
            f"frame-src {buckets}",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def page_headers(runtime: Runtime) -> list[tuple[bytes, bytes]]:
    """What every answer under /app carries besides the API's safe headers."""
    return [
        (b"content-security-policy", content_security_policy(runtime).encode()),
        (b"referrer-policy", b"no-referrer"),
        (b"x-frame-options", b"DENY"),
    ]


def page_config(request: Request) -> dict[str, int]:
    """What the page needs to know of the server's settings, read once when it loads (no
    key needed: it says nothing of any account)."""
    settings = request.app.state.runtime.settings
    return {"multipart_threshold_bytes": settings.page_multipart_threshold_bytes}


def mount_page(app: FastAPI) -> None:
    # before the static files, which would answer every path under /app
    app.get(f"{PREFIX}/config.json", include_in_schema=False)(page_config)
    app.mount(PREFIX, StaticFiles(directory=STATIC, html=True), name="app")
