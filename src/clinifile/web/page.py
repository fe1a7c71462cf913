"""Serves the staff page at /app and sets its Content-Security-Policy: scripts, styles and
API calls from this server only, uploads to the regions' buckets only."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
            "img-src 'self' data:",
            f"connect-src 'self' {buckets}",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


class PagePolicy:
    """Adds the CSP and a no-referrer policy to everything under /app."""

    def __init__(self, app: ASGIApp, policy: str) -> None:
        self.app = app
        self.headers = [
            (b"content-security-policy", policy.encode()),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX):
            await self.app(scope, receive, send)
            return

        async def with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *self.headers]}
            await send(message)

        await self.app(scope, receive, with_policy)


def mount_page(app: FastAPI, runtime: Runtime) -> None:
    app.mount(PREFIX, StaticFiles(directory=STATIC, html=True), name="app")
    app.add_middleware(PagePolicy, policy=content_security_policy(runtime))
