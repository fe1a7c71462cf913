"""Dependencies that let route signatures read like prose."""

from __future__ import annotations

import base64
import binascii
import dataclasses
from typing import Annotated

from fastapi import Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from clinifile.api.errors import BadRequest
from clinifile.api.principal_cache import PrincipalCache
from clinifile.api.query_language import MAX_ID
from clinifile.api.rate_limits import STATE_KEY, RateLimiter
from clinifile.errors import AuthenticationFailed, NotFound, RateLimited
from clinifile.runtime import Runtime
from clinifile.services.api_keys import Principal, authenticate, hash_key

# Dependencies that do no I/O are `async def`: FastAPI runs a plain `def` dependency in its
# thread pool, and those hops cost more than the work on the presign path.


async def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


async def require_user_agent(request: Request) -> None:
    if not request.headers.get("user-agent", "").strip():
        raise BadRequest("Requires a user agent")


def _basic_user(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "basic" or not credentials:
        return ""
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise AuthenticationFailed("Malformed HTTP Basic credentials") from None
    return decoded.partition(":")[0]


def _authenticate(runtime: Runtime, raw_key: str) -> Principal:
    with runtime.sessions() as session:
        return authenticate(session, runtime.settings, raw_key)


async def get_principal(
    request: Request, runtime: Annotated[Runtime, Depends(get_runtime)]
) -> Principal:
    """The caller, from the key cache or (in the thread pool) the database; then its rate
    limit."""
    raw_key = _basic_user(request)
    key_hash = hash_key(raw_key)
    principals: PrincipalCache = request.app.state.principals
    principal = principals.get(key_hash) if raw_key else None
    if principal is None:
        principal = await run_in_threadpool(_authenticate, runtime, raw_key)
        principals.put(key_hash, principal)
    limiter: RateLimiter = request.app.state.limiter
    hit = limiter.hit
    key = principal.key.key_hash
    decision = hit(key) if limiter.in_memory else await run_in_threadpool(hit, key)
    setattr(request.state, STATE_KEY, decision)  # X-RateLimit-* on the answer, 429 included
    if not decision.allowed:
        raise RateLimited(decision.limit, decision.reset_at, decision.retry_after)
    return dataclasses.replace(
        principal,
        ip_address=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )


def parse_id(value: str, what: str = "record") -> int:
    """A path id: digits only, within 64 bits; anything else is a 404."""
    if not (0 < len(value) <= 19 and value.isascii() and value.isdigit()):
        raise NotFound(what)
    if not 1 <= int(value) <= MAX_ID:
        raise NotFound(what)
    return int(value)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]


# ?redirect= of the routes that answer a presigned URL (content, preview): "false" answers
# 200 with the URL as JSON instead of the 303
RedirectParam = Annotated[
    str,
    Query(
        description="false: answer 200 with the URL as JSON instead of the 303",
        json_schema_extra={"type": "boolean", "default": True},
    ),
]
