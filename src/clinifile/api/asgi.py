"""The API as an application factory that reads its settings from the environment
(CLINIFILE_*), for servers that build the app in each of their processes:
`clinifile serve --api-processes N` (uvicorn's --workers), or an operator's own
`uvicorn --factory clinifile.api.asgi:app`. Migrations, the object store, clamd and the
processing worker are not started here: `clinifile serve` or the operator does that once.
"""

from __future__ import annotations

from fastapi import FastAPI

from clinifile.api.app import create_app
from clinifile.config import Settings
from clinifile.runtime import build_runtime


def app() -> FastAPI:
    return create_app(build_runtime(Settings()))
