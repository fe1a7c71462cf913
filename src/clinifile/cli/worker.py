"""`clinifile worker`: processing apart from the API, on any number of machines."""

from __future__ import annotations

import logging
import signal
import threading
from contextlib import ExitStack
from typing import Annotated

import typer

from clinifile.cli.logs import configure_logging
from clinifile.cli.scanning import settle_scanning
from clinifile.cli.settings import DataDirOption, load_settings, with_embedded_store

log = logging.getLogger("clinifile.worker")


def worker_command(
    data_dir: DataDirOption = None,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Jobs at once.")] = 1,
    shutdown_timeout: Annotated[
        float, typer.Option(help="Seconds a stop waits for jobs in flight before handing back.")
    ] = 30.0,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Processes uploaded attachments until stopped (SIGTERM or Ctrl-C: jobs in flight
    finish, or their leases are handed back). On PostgreSQL any number of workers share
    the queue; on SQLite run one worker process. Uses the configured object store and
    clamd, or the embedded ones of a `serve` with the same data directory."""
    from clinifile.api.presenters import attachment_at
    from clinifile.db.migrate import upgrade
    from clinifile.runtime import build_runtime
    from clinifile.worker.runner import WorkerPool

    configure_logging(log_level)
    settings = with_embedded_store(load_settings(data_dir))
    upgrade(settings.resolved_database_url())
    settings = settle_scanning(settings, ExitStack(), run_own=False)
    runtime = build_runtime(settings)
    # it delivers webhooks too, their payloads rendered as the API shows attachments
    pool = WorkerPool(runtime, concurrency, render=attachment_at)
    stopping = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        log.info("stopping on %s", signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    pool.start()
    log.info("%d worker(s) running", concurrency)
    listener = None
    if settings.metrics_port is not None:
        from clinifile.metrics import serve_metrics

        listener, _ = serve_metrics(runtime, settings.metrics_host, settings.metrics_port)
    while not stopping.wait(1.0):
        pass
    pool.stop(shutdown_timeout)
    if listener is not None:
        listener.shutdown()
    runtime.close()
    log.info("stopped")
