"""`clinifile audit`: the account's audit trail at a terminal, newest first."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from clinifile.cli.files import EXIT_USAGE, ApiKey, AsJson, BaseUrl, exit_on_error, fail
from clinifile.client import Client

# the actions as the table shows them (services.audit.Action without its prefix; a unit test
# holds the two equal): --action takes these words, or the API's whole names
ACTIONS = (
    "create",
    "update",
    "archive",
    "unarchive",
    "download",
    "preview",
    "quarantine",
    "release",
    "delete",
)
PREFIX = "patient_attachment."


def action_filter(word: str) -> str:
    """The API's action name for a word of the table (`download`) or a whole name."""
    short = word.strip().lower().removeprefix(PREFIX)
    if short not in ACTIONS:
        raise fail(
            f"--action {word!r} is not an action; use one of: {', '.join(ACTIONS)}", EXIT_USAGE
        )
    return PREFIX + short


def audit_command(
    api_key: ApiKey,
    base_url: BaseUrl = None,
    attachment: Annotated[
        str | None, typer.Option("--attachment", help="One attachment's events.")
    ] = None,
    patient: Annotated[str | None, typer.Option("--patient", help="One patient's events.")] = None,
    action: Annotated[
        str | None,
        typer.Option(
            help="One kind of event, as the table shows it: create, update, archive, "
            "unarchive, download, quarantine, release or delete."
        ),
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Events at or after this time, e.g. 2026-11-01T00:00:00Z.")
    ] = None,
    filters: Annotated[
        list[str] | None,
        typer.Option("--filter", help="A q[] filter, e.g. 'ip_address:=10.0.0.5'; repeat to AND."),
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many events.")] = 100,
    as_json: AsJson = False,
) -> None:
    """Shows who downloaded, created, changed or archived attachments: when and from where."""
    where: dict[str, Any] = {}
    if attachment:
        where["attachment_id"] = attachment
    if patient:
        where["patient_id"] = patient
    if action:
        where["action"] = action_filter(action)
    if since:
        where["created_at"] = f">={since}"
    rows: list[dict[str, Any]] = []
    with Client(api_key, base_url) as client, exit_on_error():
        for event in client.audit_events(filters=filters or [], **where):
            rows.append(event)
            if len(rows) >= limit:
                break
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="Audit events")
    for column in ("id", "when", "action", "attachment", "patient", "user", "key", "from"):
        table.add_column(column, no_wrap=column in ("when", "action", "from"))
    for r in rows:
        table.add_row(
            r["id"],
            r["created_at"],
            r["action"].removeprefix(PREFIX),
            _id_of(r.get("patient_attachment")),
            _id_of(r.get("patient")),
            _id_of(r.get("user")),
            r.get("api_key_id") or "",
            r.get("ip_address") or "",
        )
    Console().print(table)


def _id_of(linked: dict[str, Any] | None) -> str:
    return linked["links"]["self"].rsplit("/", 1)[-1] if linked else ""
