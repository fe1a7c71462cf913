"""`clinifile quarantine ls|release|delete` and `clinifile rescan`: what an operator does
about files kept aside as infected or of a blocked type, and about signatures that improved
after files were stored. Operator commands: they act on the database and the store directly
(any account), on the machine of a `serve` or with its settings; each change is audited
with who ran it, where."""

from __future__ import annotations

import getpass
import json
import socket
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from clinifile.cli.scanning import settle_scanning
from clinifile.cli.settings import DataDirOption, load_settings, with_embedded_store

if TYPE_CHECKING:
    from clinifile.db.models import Attachment
    from clinifile.runtime import Runtime
    from clinifile.worker.rescan import RescanReport

quarantine_app = typer.Typer(
    no_args_is_help=True,
    help="Files kept aside as infected or of a blocked type: list, release or delete them.",
)

AttachmentId = Annotated[int, typer.Argument(help="The attachment's id.", show_default=False)]
AsJson = Annotated[bool, typer.Option("--json", help="JSON instead of a table.")]
Account = Annotated[int | None, typer.Option("--account", help="One account's files only.")]


def _fail(message: str, status: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(status)


def _actor(command: str) -> str:
    """Who ran the command, where: what the audit trail keeps of an operator."""
    return f"{getpass.getuser()}@{socket.gethostname()} (clinifile {command})"


@contextmanager
def _runtime(data_dir: Any, *, scanning: bool = False) -> Iterator[Runtime]:
    from clinifile.db.migrate import upgrade
    from clinifile.runtime import build_runtime

    settings = with_embedded_store(load_settings(data_dir))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url())
    with ExitStack() as stack:
        if scanning:
            settings = settle_scanning(settings, stack, run_own=False)
        else:
            settings = settings.model_copy(update={"scan": "off"})
        runtime = build_runtime(settings)
        stack.callback(runtime.close)
        yield runtime


def _iso(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def _item(row: Attachment) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "account_id": str(row.account_id),
        "patient_id": str(row.patient_id),
        "filename": row.filename,
        "content_type": row.content_type,
        "size": row.size,
        "signature": row.scan_signature,
        "reason": row.failure_reason,
        "scanned_at": _iso(row.scanned_at),
        "signature_version": row.scan_signature_version,
        "quarantined_at": _iso(row.updated_at),
    }


@quarantine_app.command("ls")
def quarantine_ls(
    account: Account = None, as_json: AsJson = False, data_dir: DataDirOption = None
) -> None:
    """Lists the quarantined files, oldest first: whose they are, what was found in them, and
    the bytes they still count against their account."""
    from rich.console import Console
    from rich.table import Table

    from clinifile.worker.quarantine import quarantined

    with _runtime(data_dir) as runtime:
        items = [_item(row) for row in quarantined(runtime, account_id=account)]
    if as_json:
        typer.echo(json.dumps(items, indent=2))
        return
    table = Table(title=f"Quarantined files ({len(items)})")
    for column in ("id", "account", "patient", "file", "type", "bytes", "found", "since"):
        table.add_column(column, no_wrap=column in ("id", "since"))
    for item in items:
        table.add_row(
            item["id"],
            item["account_id"],
            item["patient_id"],
            item["filename"] or "",
            item["content_type"] or "",
            str(item["size"] or 0),
            item["signature"] or "blocked type",
            item["quarantined_at"] or "",
        )
    Console().print(table)


@quarantine_app.command("release")
def quarantine_release(
    attachment_id: AttachmentId,
    reason: Annotated[
        str, typer.Option("--reason", help="Why it may be served: kept in the audit trail.")
    ],
    data_dir: DataDirOption = None,
) -> None:
    """Serves a quarantined file after all: it completes as usual (its scan still says what
    was found), and the audit trail keeps who released it, where, and why."""
    from clinifile.errors import NotFound, StorageError
    from clinifile.worker.quarantine import release

    if not reason.strip():
        raise _fail("--reason must say why the file may be served")
    with _runtime(data_dir) as runtime:
        try:
            actor = _actor("quarantine release")
            row = release(runtime, attachment_id, reason=reason.strip(), actor=actor)
        except NotFound as error:
            raise _fail(f"{error}: `clinifile quarantine ls` lists the quarantined") from None
        except StorageError as error:
            raise _fail(f"{error}; nothing changed that a new run cannot finish", 1) from None
    typer.echo(f"attachment {row.id} released: {row.filename} is served again")


@quarantine_app.command("delete")
def quarantine_delete(attachment_id: AttachmentId, data_dir: DataDirOption = None) -> None:
    """Deletes a quarantined file's bytes for good and gives the storage back to its account;
    the attachment stays, failed, saying why, and the deletion is audited."""
    from clinifile.errors import NotFound, StorageError
    from clinifile.worker.quarantine import delete

    with _runtime(data_dir) as runtime:
        try:
            row = delete(runtime, attachment_id, actor=_actor("quarantine delete"))
        except NotFound as error:
            raise _fail(f"{error}: `clinifile quarantine ls` lists the quarantined") from None
        except StorageError as error:
            raise _fail(f"{error}; run the command again", 1) from None
    typer.echo(f"attachment {row.id} deleted: {row.size or 0} bytes freed")


def _since(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise _fail(f"--since {text!r} is not a date or time (e.g. 2026-11-01)") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _summary(report: RescanReport) -> str:
    parts = [f"{report.clean} clean", f"{len(report.quarantined)} quarantined"]
    if report.missing:
        parts.append(f"{len(report.missing)} missing from the store")
    if report.changed:
        parts.append(f"{len(report.changed)} no longer matching their checksum")
    return f"rescanned {report.scanned} files with {report.version}: " + ", ".join(parts)


def rescan_command(
    since: Annotated[
        str | None,
        typer.Option(help="Only files uploaded at or after this date or time, e.g. 2026-11-01."),
    ] = None,
    account: Account = None,
    rate: Annotated[float, typer.Option(min=0.01, help="At most this many files a second.")] = 10.0,
    mib_per_second: Annotated[
        float, typer.Option(min=0.1, help="At most this many MiB read a second.")
    ] = 50.0,
    data_dir: DataDirOption = None,
) -> None:
    """Scans stored files again with the signatures clamd has now, at a bounded rate: a file
    now detected is quarantined and its downloads stop. Stopped (Ctrl-C) and run again, it
    goes on where it was: files already scanned with these signatures are skipped."""
    from clinifile.errors import ScanError, StorageError
    from clinifile.worker.rescan import Pace, rescan

    reports: list[RescanReport] = []

    def progress(row: Attachment, report: RescanReport) -> None:
        reports[:] = [report]
        if row.id in report.quarantined:
            found = report.quarantined[row.id]
            typer.echo(f"attachment {row.id}: {found} found; quarantined", err=True)

    start = _since(since)
    with _runtime(data_dir, scanning=True) as runtime:
        if runtime.scanner is None:
            raise _fail("scanning is off (CLINIFILE_SCAN=off): there is no clamd to rescan with")
        try:
            report = rescan(
                runtime,
                actor=_actor("rescan"),
                since=start,
                account_id=account,
                pace=Pace(rate, mib_per_second * 1024 * 1024),
                progress=progress,
            )
        except (ScanError, StorageError) as error:
            raise _fail(f"{error}; run `clinifile rescan` again to go on", 1) from None
        except KeyboardInterrupt:
            done = _summary(reports[0]) if reports else "nothing rescanned"
            raise _fail(f"stopped ({done}); run `clinifile rescan` again to go on", 130) from None
    typer.echo(_summary(report))
