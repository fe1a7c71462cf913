"""Every error the API answers, in the JSON shapes of API.md; never HTML, never a trace."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from clinifile.errors import (
    AuthenticationFailed,
    NotFound,
    ProcessingNotComplete,
    RateLimited,
    StorageUnavailable,
    UploadEnded,
    ValidationFailed,
)

log = logging.getLogger(__name__)

WWW_AUTHENTICATE = {"WWW-Authenticate": 'Basic realm="clinifile"'}


def message(status: int, text: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"message": text}, status_code=status, headers=headers)


def validation_failed(errors: dict[str, str]) -> JSONResponse:
    return JSONResponse({"message": "Validation Failed", "errors": errors}, status_code=422)


class BadRequest(Exception):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return parts[0] if parts else "base"


def _error_text(error: dict[str, Any]) -> str:
    if error.get("type") == "missing":
        return "can't be blank"
    text = str(error.get("msg", "is invalid"))
    return text.removeprefix("Value error, ")


def _request_validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors: dict[str, str] = {}
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            return message(400, "Malformed JSON in the request body: send a JSON object")
        loc = tuple(error.get("loc", ()))
        if loc[:1] == ("body",) and len(loc) == 1:
            return message(400, "The request body must be a JSON object")
        errors.setdefault(_field_name(loc), _error_text(dict(error)))
    return validation_failed(errors)


def _http_exception(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    texts = {404: "Not found", 405: "Method not allowed"}
    text = texts.get(exc.status_code) or str(exc.detail)
    return message(exc.status_code, text, dict(exc.headers or {}))


def install(app: FastAPI) -> None:
    @app.exception_handler(AuthenticationFailed)
    def _auth(request: Request, exc: AuthenticationFailed) -> JSONResponse:
        # a script (the /app page) asks without the challenge, which would make the
        # browser open its own sign-in dialog and hold the request
        scripted = "x-requested-with" in request.headers
        return message(401, str(exc), None if scripted else WWW_AUTHENTICATE)

    @app.exception_handler(NotFound)
    def _not_found(_: Request, exc: NotFound) -> JSONResponse:
        return message(404, "Not found")

    @app.exception_handler(ValidationFailed)
    def _invalid(_: Request, exc: ValidationFailed) -> JSONResponse:
        return validation_failed(exc.errors)

    @app.exception_handler(RateLimited)
    def _rate_limited(_: Request, exc: RateLimited) -> JSONResponse:
        headers = {"X-RateLimit-Reset": str(exc.reset_at), "Retry-After": str(exc.retry_after)}
        return message(429, str(exc), headers)

    @app.exception_handler(ProcessingNotComplete)
    def _processing(_: Request, exc: ProcessingNotComplete) -> JSONResponse:
        return message(409, str(exc))

    @app.exception_handler(UploadEnded)
    def _upload_ended(_: Request, exc: UploadEnded) -> JSONResponse:
        return message(409, str(exc))

    @app.exception_handler(StorageUnavailable)
    def _storage(_: Request, exc: StorageUnavailable) -> JSONResponse:
        log.error("object store unavailable: %s", exc)
        return message(503, "The file store is unavailable; retry shortly", {"Retry-After": "5"})

    @app.exception_handler(DBAPIError)
    def _database(request: Request, exc: DBAPIError) -> JSONResponse:
        if not (isinstance(exc, OperationalError | InterfaceError) or exc.connection_invalidated):
            return _unexpected(request, exc)
        # the driver's class only: its message may quote the statement's parameters
        log.error("database unavailable (%s) on %s", type(exc.orig).__name__, request.url.path)
        return message(503, "The database is unavailable; retry shortly", {"Retry-After": "2"})

    @app.exception_handler(BadRequest)
    def _bad_request(_: Request, exc: BadRequest) -> JSONResponse:
        return message(400, exc.text)

    @app.exception_handler(json.JSONDecodeError)
    def _json(_: Request, exc: json.JSONDecodeError) -> JSONResponse:
        return message(400, "Malformed JSON in the request body: send a JSON object")

    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(StarletteHTTPException, _http_exception)

    @app.exception_handler(Exception)
    def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return message(500, "Internal server error; it has been logged")
