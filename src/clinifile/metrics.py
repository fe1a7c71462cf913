"""Prometheus metrics: what this process counts, and the queue as the database has it.

Counters and histograms live in prometheus_client's default registry, one set a process
(Prometheus scrapes each API and worker process and adds them up). The queue's figures
(attachments by state, the oldest pending one's age, bytes stored by region) are read from
the database at scrape time instead, so that any one process's scrape is right however many
processes share the database.

No label ever names a patient, an account, a key or a file: labels are route templates,
methods, status codes, step names, error class names and regions, all bounded sets.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from threading import Thread
from typing import TYPE_CHECKING, ParamSpec, Protocol, TypeVar
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from clinifile.db.models import Attachment
from clinifile.domain.states import AttachmentState

if TYPE_CHECKING:
    from clinifile.runtime import Runtime

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

# seconds: from a fast cached GET to a slow registration across regions
_REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# seconds: a step of a small file to the copy of a large one
_STEP_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

REQUESTS = Counter(
    "clinifile_http_requests",
    "HTTP requests answered, by method, route template and status code",
    ["method", "route", "status"],
)
REQUEST_SECONDS = Histogram(
    "clinifile_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template",
    ["method", "route"],
    buckets=_REQUEST_BUCKETS,
)
PRESIGNS = Counter("clinifile_presigns", "Presigned upload posts issued")
REGISTRATIONS_REFUSED = Counter(
    "clinifile_registrations_refused",
    "Attachment registrations (step 3) refused, by reason",
    ["reason"],
)
STEP_SECONDS = Histogram(
    "clinifile_processing_step_duration_seconds",
    "Time a processing step took, by step (those that raised too)",
    ["step"],
    buckets=_STEP_BUCKETS,
)
JOB_ERRORS = Counter(
    "clinifile_processing_errors",
    "Processing errors answered by the retry rules, by error class and answer "
    "(retry, fail or quarantine)",
    ["error", "answer"],
)
SCANS = Counter("clinifile_scans", "Malware scans made while processing, by outcome", ["outcome"])
WEBHOOK_DELIVERIES = Counter(
    "clinifile_webhook_deliveries", "Webhook delivery attempts, by outcome", ["outcome"]
)

# the reasons a registration is refused (REGISTRATIONS_REFUSED's label values)
UNKNOWN_PATIENT = "unknown_patient"
INVALID_UPLOAD_URL = "invalid_upload_url"
NO_SUCH_OBJECT = "no_such_object"
STORAGE_LIMIT = "storage_limit"
ALREADY_REGISTERED = "already_registered"


def refused(reason: str) -> None:
    REGISTRATIONS_REFUSED.labels(reason).inc()


def timed(step: str, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """function(*args, **kwargs), its duration observed as processing step `step`."""
    start = time.perf_counter()
    try:
        return function(*args, **kwargs)
    finally:
        STEP_SECONDS.labels(step).observe(time.perf_counter() - start)


def job_error(error: Exception, answer: str) -> None:
    JOB_ERRORS.labels(type(error).__name__, answer).inc()


class _Scan(Protocol):
    @property
    def signature(self) -> str | None: ...


def scanned(scan: _Scan | None) -> None:
    """Counts a scan's verdict (None: the file was not scanned)."""
    if scan is not None:
        SCANS.labels("infected" if scan.signature else "clean").inc()


def webhook_delivery(delivered: bool) -> None:
    WEBHOOK_DELIVERIES.labels("delivered" if delivered else "failed").inc()


class QueueCollector(Collector):
    """Attachments by state and region, the oldest waiting one's age and the bytes stored
    by region, read from the database when scraped (one grouped query); when the database
    does not answer, clinifile_database_up is 0 and the rest are left out."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def describe(self) -> Iterator[Metric]:
        return iter(())

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "clinifile_database_up", "1 when the database answered this scrape's query"
        )
        query = select(
            Attachment.state,
            Attachment.region,
            func.count(),
            func.sum(Attachment.size),
            func.min(Attachment.created_at),
        ).group_by(Attachment.state, Attachment.region)
        try:
            with self.runtime.engine.connect() as conn:
                rows = conn.execute(query).all()
        except SQLAlchemyError as error:
            log.warning("metrics: the database did not answer (%s)", type(error).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from _queue_metrics([(s, r, c, b, t) for s, r, c, b, t in rows])


def _queue_metrics(
    rows: list[tuple[str, str, int, int | None, datetime | None]],
) -> Iterator[Metric]:
    by_state = GaugeMetricFamily(
        "clinifile_attachments",
        "Attachments by processing state and region",
        labels=["state", "region"],
    )
    stored = GaugeMetricFamily(
        "clinifile_stored_bytes",
        "Bytes of completed and quarantined attachments, by region",
        labels=["region"],
    )
    oldest = GaugeMetricFamily(
        "clinifile_oldest_pending_age_seconds",
        "Age of the oldest attachment waiting to be processed (pending or processing); 0 "
        "when none waits",
    )
    waiting = (AttachmentState.PENDING, AttachmentState.PROCESSING)
    kept = (AttachmentState.COMPLETED, AttachmentState.QUARANTINED)
    counts: dict[tuple[str, str], int] = {}
    bytes_by_region: dict[str, int] = {}
    first: datetime | None = None
    for state, region, count, size, created in rows:
        counts[(str(state), region)] = counts.get((str(state), region), 0) + count
        if state in kept:
            bytes_by_region[region] = bytes_by_region.get(region, 0) + int(size or 0)
        if state in waiting and created is not None:
            first = created if first is None else min(first, created)
    regions = {region for _, region in counts}
    for region in sorted(regions):
        for state in AttachmentState:
            by_state.add_metric([state.value, region], counts.get((state.value, region), 0))
        stored.add_metric([region], bytes_by_region.get(region, 0))
    age = 0.0
    if first is not None:
        age = max(
            0.0, (datetime.now(UTC) - first.replace(tzinfo=first.tzinfo or UTC)).total_seconds()
        )
    oldest.add_metric([], age)
    yield by_state
    yield stored
    yield oldest


class _Process(Collector):
    """This process's own metrics (the default registry) and the database's."""

    def __init__(self, runtime: Runtime) -> None:
        self.queue = QueueCollector(runtime)

    def describe(self) -> Iterator[Metric]:
        return iter(())

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()
        yield from self.queue.collect()


def registry_for(runtime: Runtime) -> CollectorRegistry:
    """A registry of this process's metrics and the runtime's database figures."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Process(runtime))
    return registry


def exposition(runtime: Runtime) -> bytes:
    """The text a scrape gets."""
    return generate_latest(registry_for(runtime))


def serve_metrics(runtime: Runtime, host: str, port: int) -> tuple[WSGIServer, Thread]:
    """A small HTTP listener with /metrics for a process that has no API (the worker)."""
    server, thread = start_http_server(port, host, registry=registry_for(runtime))
    log.info("metrics on http://%s:%s/metrics", host, port)
    return server, thread
