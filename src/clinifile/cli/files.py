"""`clinifile upload`, `download` and `ls`: the API client at a terminal.

Exit codes (README): 0 done; 1 the server refused (some files not uploaded, a record not
found) or a file could not be written; 2 bad usage (no such file or folder, a file that would
be overwritten without --force); 3 authentication failed; 4 the server cannot be reached
(connection refused, unknown host, no answer in time); 130 interrupted (Ctrl-C: uploads not
yet registered are not registered). Every error is one line on stderr, whole.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from itertools import islice
from pathlib import Path, PurePosixPath
from typing import Annotated, Any

import typer
from rich import box
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

from clinifile.client import (
    AuthenticationFailed,
    Client,
    ClinifileError,
    ConnectionFailed,
    ProcessingFailed,
)
from clinifile.client._uploads import format_size

EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_AUTHENTICATION = 3
EXIT_UNREACHABLE = 4
EXIT_INTERRUPTED = 130

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


def fail(message: str, code: int) -> typer.Exit:
    """Prints `error: message` as one line on stderr (plain: a rich console would wrap it at
    the terminal's width) and returns the Exit to raise."""
    typer.echo("error: " + " ".join(message.split()), err=True)
    return typer.Exit(code)


@contextmanager
def exit_on_error() -> Iterator[None]:
    """Client errors as one line and their exit code (3 authentication, 4 unreachable, 1
    the rest)."""
    try:
        yield
    except AuthenticationFailed as error:
        raise fail(str(error), EXIT_AUTHENTICATION) from None
    except ConnectionFailed as error:
        raise fail(str(error), EXIT_UNREACHABLE) from None
    except ClinifileError as error:
        raise fail(str(error), EXIT_REFUSED) from None


def _files(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file())
        elif path.is_file():
            found.append(path)
        else:
            raise fail(f"no such file or folder: {path}", EXIT_USAGE)
    return found


def upload_command(
    files: Annotated[list[Path], typer.Argument(help="Files or folders to upload.")],
    patient: Annotated[str, typer.Option("--patient", help="The patient's id.")],
    api_key: ApiKey,
    base_url: BaseUrl = None,
    description: Annotated[str | None, typer.Option(help="Description of every file.")] = None,
    wait: Annotated[bool, typer.Option(help="Wait until each file is processed.")] = False,
    parallel: Annotated[int, typer.Option(min=1, max=16, help="Uploads at once.")] = 4,
    parallel_parts: Annotated[
        int, typer.Option(min=1, max=32, help="Parts at once of a file sent in parts.")
    ] = 4,
    resume: Annotated[
        bool, typer.Option(help="Go on with interrupted uploads of files sent in parts.")
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Uploads files (presign, straight to the object store, register) with progress. Files
    over 64 MiB go in parts, --parallel-parts at once; an interrupted one goes on from the
    parts the store holds with --resume (the file unchanged)."""
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
            disable=as_json or not err.is_terminal,  # a log gets the report, not bars
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
                    parallel_parts=parallel_parts,
                    resume=resume,
                )
                return {"file": str(path), "ok": True, "id": record["id"], "record": record}
            except (AuthenticationFailed, ConnectionFailed):
                raise  # the same for every file: stop them all
            except ProcessingFailed as error:
                # uploaded and registered, but never served (--wait): the server's reason
                record = error.record
                return {
                    "file": str(path),
                    "ok": False,
                    "id": record.get("id"),
                    "state": record.get("processing_state"),
                    "error": error.reason or str(error),
                    "record": record,
                }
            except ClinifileError as error:
                return {"file": str(path), "ok": False, "error": str(error)}

        cancelled = threading.Event()
        pool = ThreadPoolExecutor(parallel)
        stopped: tuple[ClinifileError, int] | None = None  # said once the bars are gone
        try:
            futures = [pool.submit(one, path) for path in paths]
            for future in as_completed(futures):
                results.append(future.result())
        except (AuthenticationFailed, ConnectionFailed) as error:
            # the same for every file: stop them all, and leave no bars behind
            cancelled.set()
            pool.shutdown(wait=True, cancel_futures=True)
            progress.live.transient = True
            code = EXIT_AUTHENTICATION if isinstance(error, AuthenticationFailed) else 0
            stopped = (error, code or EXIT_UNREACHABLE)
        except KeyboardInterrupt:
            # uploads in flight stop at their next chunk; none is registered after this
            cancelled.set()
            pool.shutdown(wait=True, cancel_futures=True)
            err.print(
                "interrupted: files not yet registered were not registered (those over "
                "64 MiB go on from where they stopped with --resume)"
            )
            raise typer.Exit(EXIT_INTERRUPTED) from None
        pool.shutdown()
    if stopped is not None:
        raise fail(str(stopped[0]), stopped[1])
    _report(results, as_json)
    if not all(r["ok"] for r in results):
        raise typer.Exit(EXIT_REFUSED)


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
            # failed or quarantined (--wait): uploaded, never served
            outcome = r.get("state") or "not uploaded"
            table.add_row(r["file"], f"[red]{outcome}[/red]", r.get("id") or "")
            failed.append(r)
    Console().print(table)
    # each refusal whole, on one line: a table cell would wrap it
    for r in failed:
        typer.echo(f"{r.get('state') or 'not uploaded'}: {r['file']}: {r['error']}", err=True)


def _own_name(record: dict[str, Any], attachment_id: str) -> str:
    """The file's own name as a name in a folder: never a path, "." or ".." (whatever the
    server sends)."""
    name = PurePosixPath(str(record.get("filename") or "").replace("\\", "/")).name
    return name if name not in ("", ".", "..") else f"attachment-{attachment_id}"


def _target(output: Path | None, name: str, force: bool) -> Path:
    target = output / name if output is not None and output.is_dir() else (output or Path(name))
    if target.is_dir():
        raise fail(f"{target} is a folder; give -o a file name or a folder", EXIT_USAGE)
    if not target.parent.is_dir():
        raise fail(f"no such folder: {target.parent}", EXIT_USAGE)
    if target.exists() and not force:
        raise fail(f"{target} exists; pass --force to overwrite it, or -o another name", EXIT_USAGE)
    return target


def download_command(
    attachment_id: Annotated[str, typer.Argument(help="The attachment's id.")],
    api_key: ApiKey,
    base_url: BaseUrl = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--output",
            help="The file to write, or a folder to write it in under its own name "
            "(default: its own name in the current folder).",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Downloads an attachment's file. An existing file is kept unless --force; a download
    that fails leaves nothing behind."""
    with Client(api_key, base_url) as client, exit_on_error():
        record = client.attachment(attachment_id)
        target = _target(output, _own_name(record, attachment_id), force)
        partial = target.with_name(f".{target.name}.part")
        try:
            written = client.download(attachment_id, partial)
            partial.replace(target)
        except OSError as error:
            raise fail(f"cannot write {target}: {error.strerror or error}", EXIT_REFUSED) from None
        finally:
            partial.unlink(missing_ok=True)
    typer.echo(f"wrote {written} byte{'' if written == 1 else 's'} to {target}", err=True)


def ls_command(
    api_key: ApiKey,
    base_url: BaseUrl = None,
    patient: Annotated[str | None, typer.Option("--patient", help="One patient's files.")] = None,
    filters: Annotated[
        list[str] | None,
        typer.Option("--filter", help="A q[] filter, e.g. 'size:>=1000'; repeat to AND."),
    ] = None,
    sort: Annotated[str | None, typer.Option(help="e.g. created_at:desc")] = None,
    archived: Annotated[
        bool, typer.Option("--archived", help="Archived files too (marked archived).")
    ] = False,
    limit: Annotated[int, typer.Option(help="At most this many rows.")] = 100,
    as_json: AsJson = False,
) -> None:
    """Lists attachments as a table that fits the terminal."""
    wanted = [*(filters or ()), *(["archived_at:*"] if archived else [])]
    with Client(api_key, base_url) as client, exit_on_error():
        # pages are fetched lazily: no more of them than the rows shown need
        rows = list(islice(client.attachments(patient, sort=sort, filters=wanted), limit))
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    console = Console()
    console.print(attachments_table(rows, console.width))


def _state(record: dict[str, Any]) -> str:
    if record.get("archived_at"):
        return "archived"
    if record.get("processing_completed"):
        return "processed"
    return str(record.get("processing_state") or "processing")


def attachments_table(rows: list[dict[str, Any]], width: int) -> Table:
    """The columns that fit `width`: id, name, size and state always (ids whole, a long name
    folded over lines); then the type, the time created and the description as room allows,
    cut with an ellipsis rather than wrapped. Widths are set here: rich would squeeze an id."""
    cells = [
        {
            "id": r["id"],
            "name": r.get("filename") or "",
            "type": r.get("content_type") or "",
            "size": format_size(r["size"]) if r.get("size") is not None else "",
            "state": _state(r),
            "created": (r.get("created_at") or "")[:16].replace("T", " "),
            "description": r.get("description") or "",
        }
        for r in rows
    ]

    def widest(column: str) -> int:
        return max([len(column), *(len(c[column]) for c in cells)])

    fixed = {column: widest(column) for column in ("id", "size", "state", "created")}
    shown = ["id", "name", "type", "size", "state", "created", "description"]
    # between two columns: the padding of each (a space) and the divider (a space)
    room = lambda: width - sum(fixed.get(c, 0) for c in shown) - 3 * (len(shown) - 1)  # noqa: E731
    for dropped, needs in (("description", 40), ("created", 30), ("type", 20)):
        if room() < needs:
            shown.remove(dropped)
    flexible = [c for c in ("name", "type", "description") if c in shown]
    share = {"name": 3, "type": 2, "description": 2}
    total = sum(share[c] for c in flexible)
    widths = {c: max(4, room() * share[c] // total) for c in flexible} | fixed
    table = Table(title="Attachments", box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for column in shown:
        table.add_column(
            column,
            width=min(widths[column], widest(column)),
            no_wrap=column != "name",
            overflow="fold" if column == "name" else "ellipsis",
            justify="right" if column == "size" else "left",
        )
    for c in cells:
        table.add_row(*(c[column] for column in shown))
    return table
