"""The API's Prometheus metrics: each request counted and timed by its route template, and
GET /metrics (this process's counters and the database's queue figures, see
clinifile.metrics)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clinifile import metrics

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# a path no route matched: never the path itself, which could carry anything
UNMATCHED = "<unmatched>"
# each label set's counter and histogram, looked up once (labels() takes a lock and a
# tuple each time): a few microseconds off every request; bounded as the labels are
_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}


class RequestMetrics:
    """Counts and times every answer by method, route template (/patients/{patient_id}/...,
    never the path with its ids) and status. It must sit inside any middleware that copies
    the scope, so that it sees the route the router leaves in it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, noting_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or UNMATCHED
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            key = (method, template, status)
            children = _children.get(key)
            if children is None:
                children = _children[key] = (
                    metrics.REQUESTS.labels(method, template, str(status)),
                    metrics.REQUEST_SECONDS.labels(method, template),
                )
            children[0].inc()
            children[1].observe(time.perf_counter() - start)


async def metrics_endpoint(request: Request) -> Response:
    """Prometheus' text format; the queue's figures are a database query (in a thread)."""
    body = await run_in_threadpool(metrics.exposition, request.app.state.runtime)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
