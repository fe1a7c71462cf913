"""`clinifile upload`, `download` and `ls`: the API client at a terminal.

Exit codes: 0 done, 1 some files failed, 2 bad usage, 3 authentication failed,
130 interrupted (Ctrl-C: uploads not yet registered are not registered).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from clinifile.client import AuthenticationFailed, Client, ClinifileError

ApiKey = Annotated[
    str,
    typer.Option("--api-key", envvar="CLINIFILE_API_KEY", help="The API key.", show_default=False),
]
BaseUrl = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        envvar="CLINIFILE_BASE_URL",
        help="The server, e.g. http://127.0.0.1:8000 (default: the key's Cliniko shard).",
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]

err = Console(stderr=True)


@contextmanager
def exit_on_error() -> Iterator[None]:
    """Client errors as a message and an exit code (3: authentication, 1: the rest)."""
    try:
        yield
    except AuthenticationFailed as error:
        err.print(f"[red]error:[/red] {error}")
        raise typer.Exit(3) from None
    except ClinifileError as error:
        err.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from None


def _files(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file())
        elif path.is_file():
            found.append(path)
        else:
            err.print(f"[red]error:[/red] no such file or folder: {path}")
            raise typer.Exit(2)
    return found


def upload_command(
    files: Annotated[list[Path], typer.Argument(help="Files or folders to upload.")],
    patient: Annotated[str, typer.Option("--patient", help="The patient's id.")],
    api_key: ApiKey,
    base_url: BaseUrl = None,
    description: Annotated[str | None, typer.Option(help="Description of every file.")] = None,
    wait: Annotated[bool, typer.Option(help="Wait until each file is processed.")] = False,
    parallel: Annotated[int, typer.Option(min=1, max=16, help="Uploads at once.")] = 4,
    as_json: AsJson = False,
) -> None:
    """Uploads files (presign, straight to the object store, register) with progress."""
    paths = _files(files)
    results: list[dict[str, Any]] = []
    with (
        Client(api_key, base_url) as client,
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(binary_units=True),  # 1024-based, as the refusals count
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=err,
            disable=as_json,
            transient=False,
        ) as progress,
    ):

        def one(path: Path) -> dict[str, Any]:
            task = progress.add_task(path.name, total=path.stat().st_size)
            try:
                record = client.upload(
                    patient,
                    path,
                    description=description,
                    wait=wait,
                    progress=lambda n: progress.advance(task, n),
                    cancel=cancelled,
                )
                return {"file": str(path), "ok": True, "id": record["id"], "record": record}
            except AuthenticationFailed:
                raise
            except ClinifileError as error:
                return {"file": str(path), "ok": False, "error": str(error)}

        cancelled = threading.Event()
        pool = ThreadPoolExecutor(parallel)
        try:
            futures = [pool.submit(one, path) for path in paths]
            for future in as_completed(futures):
                results.append(future.result())
        except AuthenticationFailed as error:
            pool.shutdown(cancel_futures=True)
            err.print(f"[red]error:[/red] {error}")
            raise typer.Exit(3) from None
        except KeyboardInterrupt:
            # uploads in flight stop at their next chunk; none is registered after this
            cancelled.set()
            pool.shutdown(wait=True, cancel_futures=True)
            err.print("interrupted: files not yet registered were not registered")
            raise typer.Exit(130) from None
        pool.shutdown()
    _report(results, as_json)
    if not all(r["ok"] for r in results):
        raise typer.Exit(1)


def _report(results: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(results, indent=2))
        return
    table = Table(title="Uploads")
    for column in ("file", "result", "attachment"):
        table.add_column(column)
    failed = []
    for r in sorted(results, key=lambda r: r["file"]):
        if r["ok"]:
            state = "processed" if r["record"].get("processing_completed") else "registered"
            table.add_row(r["file"], f"[green]{state}[/green]", r["id"])
        else:
            table.add_row(r["file"], "[red]not uploaded[/red]", "")
            failed.append(r)
    Console().print(table)
    # each refusal whole, on one line: a table cell would wrap it
    for r in failed:
        typer.echo(f"not uploaded: {r['file']}: {r['error']}", err=True)


def download_command(
    attachment_id: Annotated[str, typer.Argument(help="The attachment's id.")],
    api_key: ApiKey,
    base_url: BaseUrl = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="File to write (default: its name).")
    ] = None,
) -> None:
    """Downloads an attachment's file."""
    with Client(api_key, base_url) as client, exit_on_error():
        record = client.attachment(attachment_id)
        target = output or Path(record.get("filename") or f"attachment-{attachment_id}")
        written = client.download(attachment_id, target)
    err.print(f"wrote {written} bytes to {target}")


def ls_command(
    api_key: ApiKey,
    base_url: BaseUrl = None,
    patient: Annotated[str | None, typer.Option("--patient", help="One patient's files.")] = None,
    filters: Annotated[
        list[str] | None,
        typer.Option("--filter", help="A q[] filter, e.g. 'size:>=1000'; repeat to AND."),
    ] = None,
    sort: Annotated[str | None, typer.Option(help="e.g. created_at:desc")] = None,
    limit: Annotated[int, typer.Option(help="At most this many rows.")] = 100,
    as_json: AsJson = False,
) -> None:
    """Lists attachments as a table."""
    with Client(api_key, base_url) as client, exit_on_error():
        # pages are fetched lazily: no more of them than the rows shown need
        rows = list(islice(client.attachments(patient, sort=sort, filters=filters or ()), limit))
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="Attachments")
    for column in ("id", "filename", "type", "size", "description", "processed", "created"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r["id"],
            r.get("filename") or "",
            r.get("content_type") or "",
            str(r.get("size") or ""),
            r.get("description") or "",
            "yes" if r.get("processing_completed") else "no",
            r.get("created_at") or "",
        )
    Console().print(table)
