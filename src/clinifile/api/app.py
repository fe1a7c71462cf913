"""The FastAPI application."""

from __future__ import annotations

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from clinifile import __version__
from clinifile.api import errors
from clinifile.api.deps import require_user_agent
from clinifile.api.metrics import RequestMetrics, metrics_endpoint
from clinifile.api.middleware import (
    BodySizeLimit,
    ForwardedHeaders,
    RateLimitHeaders,
    RequestIds,
    SafeHeaders,
)
from clinifile.api.openapi import openapi_document, operation_id
from clinifile.api.principal_cache import PrincipalCache
from clinifile.api.rate_limits import RateLimiter
from clinifile.api.routes import (
    account,
    attachments,
    audit_events,
    multipart_uploads,
    patient_cases,
    patients,
    previews,
    users,
    webhooks,
)
from clinifile.errors import ScanError, StorageError
from clinifile.runtime import Runtime
from clinifile.web.page import PREFIX as PAGE_PREFIX
from clinifile.web.page import mount_page, page_headers


def create_app(runtime: Runtime) -> FastAPI:
    # the docs' assets are served by clinifile itself (no CDN: it must work offline)
    app = FastAPIOffline(
        title="clinifile",
        version=__version__,
        description="Patient attachments, compatible with Cliniko's v1 API.",
        generate_unique_id_function=operation_id,
    )
    app.state.runtime = runtime
    settings = runtime.settings
    app.state.principals = PrincipalCache(settings.auth_cache_seconds)
    app.state.limiter = RateLimiter(
        settings.rate_limit_storage, settings.rate_limit_per_minute, settings.rate_limit_key_prefix
    )
    errors.install(app)
    routers = (
        patients,
        attachments,
        previews,
        audit_events,
        account,
        users,
        webhooks,
        patient_cases,
        multipart_uploads,
    )
    for module in routers:
        app.include_router(module.router, dependencies=[Depends(require_user_agent)])
    mount_page(app)

    # outermost last: headers on every answer, then proxies, then the body cap, then the
    # rate limit's headers
    app.add_middleware(RateLimitHeaders)
    app.add_middleware(BodySizeLimit, limit=runtime.settings.max_request_body_bytes)
    # inside ForwardedHeaders, which copies the scope: it reads the route the router set
    app.add_middleware(RequestMetrics)
    app.add_middleware(ForwardedHeaders, trusted=runtime.settings.forwarded_allow_ips)
    app.add_middleware(SafeHeaders, prefix=PAGE_PREFIX, prefix_headers=page_headers(runtime))
    app.add_middleware(RequestIds)

    app.get("/healthz", include_in_schema=False)(healthz)
    app.get("/readyz", include_in_schema=False)(readyz)
    app.get("/metrics", include_in_schema=False)(metrics_endpoint)
    app.openapi = lambda: openapi_document(app)  # type: ignore[method-assign]
    return app


# Module-level, not closures over the runtime: FastAPI keeps every endpoint it has seen in
# an lru_cache of 4,096, so a closure would keep each app's runtime (its engine and S3
# clients, ~25 MB) alive long after the app is gone (found as the test suite's memory grew).


def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


def readyz(request: Request) -> JSONResponse:
    """The database, every region's object store and, with scanning on, clamd answer."""
    problems = readiness_problems(request.app.state.runtime)
    if problems:
        return JSONResponse({"message": "not ready: " + "; ".join(problems)}, 503)
    return JSONResponse({"status": "ready"})


def readiness_problems(runtime: Runtime) -> list[str]:
    problems = []
    try:
        with runtime.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        problems.append(f"database unreachable ({type(error).__name__})")
    for name, store in runtime.stores.items():
        try:
            store.check()
        except StorageError as error:
            problems.append(f"object store of region {name}: {error}")
    if runtime.scanner is not None:
        try:
            runtime.scanner.ping()
        except ScanError as error:
            problems.append(f"{error} (nothing is served unscanned meanwhile)")
    return problems
