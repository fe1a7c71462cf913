"""The FastAPI application."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi

from clinifile import __version__
from clinifile.api import errors
from clinifile.api.deps import require_user_agent
from clinifile.api.middleware import BodySizeLimit, ForwardedHeaders, SafeHeaders
from clinifile.api.routes import attachments, patients
from clinifile.runtime import Runtime


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(
        title="clinifile",
        version=__version__,
        description="Patient attachments, compatible with Cliniko's v1 API.",
    )
    app.state.runtime = runtime
    errors.install(app)
    for router in (patients.router, attachments.router):
        app.include_router(router, dependencies=[Depends(require_user_agent)])

    # outermost last: headers on every answer, then proxies, then the body cap
    app.add_middleware(BodySizeLimit, limit=runtime.settings.max_request_body_bytes)
    app.add_middleware(ForwardedHeaders, trusted=runtime.settings.forwarded_allow_ips)
    app.add_middleware(SafeHeaders)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The generated document, plus HTTP Basic auth (the API key as user name)."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    schema.setdefault("components", {})["securitySchemes"] = {
        "apiKey": {
            "type": "http",
            "scheme": "basic",
            "description": "The API key as the user name, an empty password.",
        }
    }
    for path in schema["paths"].values():
        for operation in path.values():
            operation["security"] = [{"apiKey": []}]
            operation.setdefault("parameters", []).append(
                {
                    "name": "User-Agent",
                    "in": "header",
                    "required": True,
                    "schema": {"type": "string", "minLength": 1},
                    "description": "Required: name your application and a contact.",
                }
            )
    app.openapi_schema = schema
    return schema
