"""`clinifile serve`: object store, migrations, API and worker in one process tree."""

from __future__ import annotations

import logging
import signal
import sys
from contextlib import ExitStack
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from clinifile.cli.logs import configure_logging
from clinifile.cli.scanning import settle_scanning
from clinifile.cli.settings import DataDirOption, load_settings
from clinifile.cli.snippet import curl_snippet

if TYPE_CHECKING:
    from clinifile.config import Settings
    from clinifile.runtime import Runtime

log = logging.getLogger("clinifile.serve")


def _start_embedded_store(settings: Settings, stack: ExitStack) -> Settings:
    from clinifile.storage.seaweed import EmbeddedSeaweed

    weed = EmbeddedSeaweed(
        settings.data_dir / "seaweedfs", binary=settings.weed_binary, s3_port=settings.weed_s3_port
    )
    weed.start()
    stack.callback(weed.stop)
    assert weed.credentials is not None
    return settings.model_copy(
        update={
            "s3_endpoint_url": weed.endpoint_url,
            "s3_access_key_id": weed.credentials.access_key_id,
            "s3_secret_access_key": weed.credentials.secret_access_key,
        }
    )


def _announce(runtime: Runtime, base: str, console: Console) -> None:
    from clinifile.services.accounts import create_api_key, create_demo_if_empty

    demo_file = runtime.settings.data_dir / "demo.txt"
    demo = create_demo_if_empty(runtime)
    if demo is not None:
        demo_file.write_text(f"{demo.account_id} {demo.patient_id}\n")
        account_id, patient_id, key = demo.account_id, demo.patient_id, demo.api_key
    elif demo_file.exists():
        account_id, patient_id = (int(x) for x in demo_file.read_text().split())
        # keys are stored only as hashes: a fresh one for this run's example
        key = create_api_key(runtime, account_id)
    else:
        return
    console.print(f"[bold]clinifile[/bold] is serving on {base}")
    console.print(
        f"The page for clinic staff: {base}/app/ (sign in with the key below)", soft_wrap=True
    )
    console.print(f"Demo trial account {account_id}, patient {patient_id}. API key:")
    console.print(key, markup=False, highlight=False, soft_wrap=True)
    console.print("\nTry the whole upload flow (paste into bash):\n")
    console.print(
        curl_snippet(base=base, key=key, patient_id=patient_id),
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


class _StopRequested(Exception):
    pass


def _stop_on_signal(signum: int, _frame: object) -> None:
    raise _StopRequested(signal.Signals(signum).name)


def _serve_processes(settings: Settings, processes: int, log_level: str) -> None:
    """The API in `processes` processes that share the port, each building its app from
    these settings (api.asgi); returns when a signal has stopped them all."""
    import os

    import uvicorn

    os.environ.update(settings.as_environment())
    uvicorn.run(
        "clinifile.api.asgi:app",
        factory=True,
        workers=processes,
        host=settings.host,
        port=settings.port,
        proxy_headers=False,
        log_level=log_level,
        server_header=False,
    )
    log.info("stopped serving")


def serve_command(
    data_dir: DataDirOption = None,
    host: Annotated[
        str | None, typer.Option(help="Address to listen on [default: 127.0.0.1].")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on [default: 8000].")] = None,
    worker: Annotated[bool, typer.Option(help="Run the processing worker in this process.")] = True,
    storage: Annotated[
        bool,
        typer.Option(
            help="Start the embedded SeaweedFS; --no-storage uses the configured regions' "
            "endpoints (CLINIFILE_S3_ENDPOINT_URL, CLINIFILE_REGIONS) or AWS S3."
        ),
    ] = True,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(help="Proxies whose X-Forwarded-* headers are trusted (comma-separated)."),
    ] = None,
    api_processes: Annotated[
        int,
        typer.Option(
            min=1,
            help="Processes serving the API on the one port (uvicorn's --workers). With more "
            "than one, give them a shared rate-limit store (CLINIFILE_RATE_LIMIT_STORAGE).",
        ),
    ] = 1,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Starts the object store (unless an external one is configured) and, when scanning
    is on without CLINIFILE_CLAMD_ADDRESS, its own clamd; migrates the database, and serves
    the API with the processing worker. Ctrl-C stops it all."""
    # the server's parts are imported here, so client commands start light
    import uvicorn

    from clinifile.api.app import create_app
    from clinifile.api.presenters import attachment_at
    from clinifile.db.migrate import upgrade
    from clinifile.runtime import build_runtime, ensure_buckets
    from clinifile.storage.seaweed import WeedNotFound
    from clinifile.worker.runner import WorkerPool

    configure_logging(log_level)
    settings = load_settings(
        data_dir, host=host, port=port, forwarded_allow_ips=forwarded_allow_ips
    )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    console = Console()
    with ExitStack() as stack:
        external = settings.s3_endpoint_url is not None or all(
            r.endpoint_url for r in settings.regions
        )
        if storage and not external:
            try:
                settings = _start_embedded_store(settings, stack)
            except WeedNotFound as error:
                console.print(f"[red]error:[/red] {error}")
                raise typer.Exit(2) from None
        upgrade(settings.resolved_database_url())
        settings = settle_scanning(settings, stack, run_own=True)
        runtime = build_runtime(settings)
        stack.callback(runtime.close)
        ensure_buckets(runtime)
        if worker and settings.worker_enabled:
            # it delivers webhooks too, their payloads rendered as the API shows attachments
            pool = WorkerPool(runtime, concurrency=1, render=attachment_at)
            pool.start()
            stack.callback(pool.stop)
        base = f"http://{settings.host}:{settings.port}"
        _announce(runtime, base, console)
        if api_processes > 1:
            _serve_processes(settings, api_processes, log_level)
            return
        config = uvicorn.Config(
            create_app(runtime),
            host=settings.host,
            port=settings.port,
            # the app honours X-Forwarded-* itself (Proto and Host) from trusted proxies
            proxy_headers=False,
            log_level=log_level,
            server_header=False,
        )
        server = uvicorn.Server(config)
        # uvicorn re-raises the signal that stopped it: let that unwind this block, so the
        # worker and the object store stop too, and count it as a clean stop
        signal.signal(signal.SIGTERM, _stop_on_signal)
        signal.signal(signal.SIGINT, _stop_on_signal)
        try:
            server.run()
        except _StopRequested as stop:
            log.info("stopping on %s", stop)
        if not server.started:
            log.error("the API could not start (is port %s in use?)", settings.port)
            sys.exit(1)
    log.info("stopped")
