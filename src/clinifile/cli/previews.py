"""`clinifile previews rebuild`: previews for files stored before previews existed."""

from __future__ import annotations

import json
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import Annotated

import typer

from clinifile.cli.settings import DataDirOption, load_settings, with_embedded_store

previews_app = typer.Typer(no_args_is_help=True, help="Previews of images, PDFs and DICOM studies.")


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as error:
        typer.echo(f"error: --since {value!r} is not a date (2026-11-01 or ISO 8601)", err=True)
        raise typer.Exit(2) from error
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@previews_app.command("rebuild")
def rebuild_command(
    account: Annotated[
        int | None, typer.Option("--account", help="One account's files only.")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since", help="Files created on or after this date (ISO 8601).", show_default=False
        ),
    ] = None,
    per_second: Annotated[
        float | None,
        typer.Option(
            "--per-second", help="At most this many files a second [default: the setting, 2]."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The report as JSON.")] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Makes the previews completed files lack (those stored before previews existed, or
    whose preview the store could not take), one at a time at a bounded rate. Stopped, it
    goes on where it was when run again."""
    from clinifile.db.migrate import upgrade
    from clinifile.runtime import build_runtime
    from clinifile.worker.rebuild import rebuild

    when = _since(since)
    settings = with_embedded_store(load_settings(data_dir))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url())
    with ExitStack() as stack:
        runtime = build_runtime(settings)
        stack.callback(runtime.close)
        report = rebuild(runtime, account_id=account, since=when, per_second=per_second)
    if as_json:
        typer.echo(json.dumps({"files": report.seen, "states": report.states}))
        return
    states = ", ".join(f"{count} {state}" for state, count in sorted(report.states.items()))
    typer.echo(f"{report.seen} files: {states or 'nothing to do'}")
