"""ASGI middleware: request ids, trusted proxy headers, a request body cap, safe response
headers, the rate limit's headers."""

from __future__ import annotations

import json
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clinifile import log_context
from clinifile.api.rate_limits import STATE_KEY

_ADDRESS = re.compile(r"^[0-9A-Fa-f:.]{2,45}$")
_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


class RequestIds:
    """Gives each request its id (X-Request-ID when plausible, else a new one) for its log
    lines and for an attachment it registers (log_context), and returns it in the answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        value = log_context.request_id_from(_header(scope, b"x-request-id"))
        header = (b"x-request-id", value.encode("ascii"))

        async def with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), header]}
            await send(message)

        token = log_context.request_id.set(value)
        try:
            await self.app(scope, receive, with_id)
        finally:
            log_context.request_id.reset(token)


class ForwardedHeaders:
    """Honours X-Forwarded-Proto, X-Forwarded-Host and X-Forwarded-For from trusted proxies
    only, so links name the URL the client called and the audit trail the client's address
    (the nearest hop that is not a trusted proxy, as uvicorn picks it)."""

    def __init__(self, app: ASGIApp, trusted: str | None) -> None:
        self.app = app
        self.trust_all = trusted is not None and trusted.strip() == "*"
        self.trusted = {ip.strip() for ip in (trusted or "").split(",") if ip.strip()}

    def _trusts(self, scope: Scope) -> bool:
        client = scope.get("client")
        return self.trust_all or (client is not None and client[0] in self.trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._trusts(scope):
            scope = dict(scope)
            proto = (_header(scope, b"x-forwarded-proto") or "").split(",")[0].strip().lower()
            if proto in ("http", "https"):
                scope["scheme"] = proto
            host = (_header(scope, b"x-forwarded-host") or "").split(",")[0].strip()
            if host and _HOST.match(host):
                headers = [(k, v) for k, v in scope["headers"] if k != b"host"]
                scope["headers"] = [*headers, (b"host", host.encode("latin-1"))]
            client = self._client_address(_header(scope, b"x-forwarded-for") or "")
            if client:
                scope["client"] = (client, 0)
        await self.app(scope, receive, send)

    def _client_address(self, forwarded_for: str) -> str | None:
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        for hop in reversed(hops):
            if not self.trust_all and hop in self.trusted:
                continue
            return hop if _ADDRESS.match(hop) else None
        return hops[0] if hops and _ADDRESS.match(hops[0]) else None


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"Request body too large: the API takes at most {limit} bytes")


# the completion of a multipart upload names every part (at most 10,000): it may be larger
MULTIPART_PREFIX = "/v1/attachment_multipart_uploads/"
COMPLETE_BODY_LIMIT = 1024 * 1024


class BodySizeLimit:
    """Refuses bodies over `limit` bytes: at once by Content-Length, else while reading."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit
        path = scope.get("path", "")
        if path.startswith(MULTIPART_PREFIX) and path.endswith("/complete"):
            limit = max(limit, COMPLETE_BODY_LIMIT)  # a list of up to 10,000 parts
        length = _header(scope, b"content-length")
        if length is None and _header(scope, b"transfer-encoding") is None:
            await self.app(scope, receive, send)  # no body can follow
            return
        if length is not None and (not length.isdigit() or int(length) > limit):
            await _send_json(send, 413, str(BodyTooLarge(limit)))
            return
        seen = 0
        too_large = False

        async def limited() -> Message:
            nonlocal seen, too_large
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # stop reading; whatever the app answers is replaced by the 413 below
                    too_large = True
                    return {"type": "http.request", "body": b"", "more_body": False}
            return message

        async def answer(message: Message) -> None:
            if not too_large:
                await send(message)
            elif message["type"] == "http.response.start":
                await _send_json(send, 413, str(BodyTooLarge(limit)))

        await self.app(scope, limited, answer)


Header = tuple[bytes, bytes]
SAFE: list[Header] = [(b"x-content-type-options", b"nosniff"), (b"cache-control", b"no-store")]


class SafeHeaders:
    """Every response: no MIME sniffing, never cached (these are medical records); and
    under one path prefix (the staff page) more headers (its Content-Security-Policy)."""

    def __init__(
        self, app: ASGIApp, prefix: str = "", prefix_headers: list[Header] | None = None
    ) -> None:
        self.app = app
        self.prefix = prefix
        self.prefix_headers = prefix_headers or []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = SAFE
        if self.prefix and scope["path"].startswith(self.prefix):
            extra = SAFE + self.prefix_headers

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() not in (b"x-content-type-options", b"cache-control")
                ]
                message = {**message, "headers": headers + extra}
            await send(message)

        await self.app(scope, receive, with_headers)


class RateLimitHeaders:
    """X-RateLimit-Limit and X-RateLimit-Remaining on every answer to a request whose API key
    was counted (get_principal leaves its decision in the request's state): a 200, a 404, a
    422 or the 429 alike, so that any client can pace itself before it is refused."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # made here, so that the inner layers' copies of the scope share this one dict
        state = scope.setdefault("state", {})

        async def with_headers(message: Message) -> None:
            decision = state.get(STATE_KEY)
            if message["type"] == "http.response.start" and decision is not None:
                headers = [*message.get("headers", []), *decision.headers()]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


async def _send_json(send: Send, status: int, text: str) -> None:
    body = json.dumps({"message": text}).encode()
    headers: list[tuple[bytes, bytes]] = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
