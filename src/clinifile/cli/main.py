"""`clinifile`: serve, worker, migrate, and operator commands for accounts, keys, patients.

Commands that create something print only its id (or key) on stdout, so
`KEY=$(clinifile keys create --account 1)` works in a script.
"""

from __future__ import annotations

from typing import Annotated

import typer

from clinifile.cli.audit import audit_command
from clinifile.cli.files import download_command, ls_command, upload_command
from clinifile.cli.logs import configure_logging
from clinifile.cli.previews import previews_app
from clinifile.cli.quarantine import quarantine_app, rescan_command
from clinifile.cli.serve import serve_command
from clinifile.cli.settings import DataDirOption, load_settings, open_runtime
from clinifile.cli.webhooks import webhooks_app
from clinifile.cli.worker import worker_command

# markdown: a docstring's paragraphs are reflowed to the terminal (rich mode kept its hard line
# breaks) and `[env: ...]` in option help is text, not a markup tag
app = typer.Typer(
    no_args_is_help=True, add_completion=False, help=__doc__, rich_markup_mode="markdown"
)
accounts_app = typer.Typer(no_args_is_help=True, help="Accounts of clinics.")
keys_app = typer.Typer(no_args_is_help=True, help="API keys (shown once, stored as hashes).")
patients_app = typer.Typer(no_args_is_help=True, help="Patients.")
users_app = typer.Typer(no_args_is_help=True, help="Users of an account: whom an API key acts for.")
app.add_typer(accounts_app, name="accounts")
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")
app.add_typer(patients_app, name="patients")
app.command("serve")(serve_command)
app.command("worker")(worker_command)
app.command("upload")(upload_command)
app.command("download")(download_command)
app.command("ls")(ls_command)
app.command("audit")(audit_command)
app.add_typer(quarantine_app, name="quarantine")
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(previews_app, name="previews")
app.command("rescan")(rescan_command)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


@app.command()
def migrate(data_dir: DataDirOption = None) -> None:
    """Brings the database schema up to date (Alembic)."""
    from clinifile.db.migrate import upgrade

    settings = load_settings(data_dir)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url())
    typer.echo("database is up to date", err=True)


@accounts_app.command("create")
def accounts_create(
    name: Annotated[str, typer.Option("--name", help="The clinic's name.")],
    region: Annotated[str, typer.Option("--region", help="Region, e.g. au1 or uk1.")] = "au1",
    plan: Annotated[str, typer.Option("--plan", help="trial or paid.")] = "trial",
    storage_limit: Annotated[
        int | None, typer.Option("--storage-limit-bytes", help="Override the plan's limit.")
    ] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Creates an account and prints its id."""
    from clinifile.services import accounts as accounts_service

    with open_runtime(data_dir) as runtime:
        try:
            account_id = accounts_service.create_account(
                runtime, name=name, region=region, plan=plan, storage_limit_bytes=storage_limit
            )
        except (KeyError, ValueError) as error:
            raise _fail(str(error).strip("'\"")) from None
    typer.echo(account_id)


@keys_app.command("create")
def keys_create(
    account: Annotated[int, typer.Option("--account", help="The account's id.")],
    user: Annotated[
        int | None,
        typer.Option(
            "--user",
            help="The user the key acts for (default: the account's first user, its API user).",
        ),
    ] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Creates an API key and prints it (only its hash is kept: store it now)."""
    from clinifile.errors import NotFound
    from clinifile.services import accounts as accounts_service

    with open_runtime(data_dir) as runtime:
        try:
            key = accounts_service.create_api_key(runtime, account, user)
        except NotFound as error:
            raise _fail(str(error)) from None
    typer.echo(key)


@users_app.command("create")
def users_create(
    account: Annotated[int, typer.Option("--account", help="The account's id.")],
    first_name: Annotated[str, typer.Option("--first-name", help="The user's first name.")],
    last_name: Annotated[str, typer.Option("--last-name", help="The user's last name.")],
    email: Annotated[str | None, typer.Option("--email", help="The user's email address.")] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Creates a user of the account and prints its id; give it keys with
    `clinifile keys create --user ID`."""
    from clinifile.errors import NotFound, ValidationFailed
    from clinifile.services import users as users_service

    with open_runtime(data_dir) as runtime:
        try:
            user_id = users_service.create(
                runtime,
                account_id=account,
                first_name=first_name,
                last_name=last_name,
                email=email,
            )
        except (NotFound, ValidationFailed) as error:
            raise _fail(str(error)) from None
    typer.echo(user_id)


@patients_app.command("create")
def patients_create(
    account: Annotated[int, typer.Option("--account", help="The account's id.")],
    first_name: Annotated[str, typer.Option("--first-name")],
    last_name: Annotated[str, typer.Option("--last-name")],
    data_dir: DataDirOption = None,
) -> None:
    """Creates a patient and prints its id."""
    from clinifile.errors import NotFound
    from clinifile.services import accounts as accounts_service

    with open_runtime(data_dir) as runtime:
        try:
            patient_id = accounts_service.create_patient(
                runtime, account_id=account, first_name=first_name, last_name=last_name
            )
        except NotFound as error:
            raise _fail(str(error)) from None
    typer.echo(patient_id)


def main() -> None:  # pragma: no cover - console entry point
    configure_logging("warning")
    app()
