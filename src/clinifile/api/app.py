"""The FastAPI application."""

from __future__ import annotations

from fastapi import Depends, FastAPI

from clinifile import __version__
from clinifile.api import errors
from clinifile.api.deps import require_user_agent
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

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
