"""`clinifile webhooks create|ls|delete`: an operator manages an account's webhook endpoints
(the same rules as `POST /v1/webhook_endpoints`: the URL is checked, the secret shown once)."""

from __future__ import annotations

from typing import Annotated

import typer

from clinifile.cli.settings import DataDirOption, load_settings, open_runtime

webhooks_app = typer.Typer(
    no_args_is_help=True,
    help="Webhook endpoints of an account: where its attachment events are sent, signed.",
)

AccountOption = Annotated[int, typer.Option("--account", help="The account's id.")]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


@webhooks_app.command("create")
def webhooks_create(
    account: AccountOption,
    url: Annotated[str, typer.Option("--url", help="Where to POST events (http or https).")],
    event: Annotated[
        list[str],
        typer.Option(
            "--event",
            help="An event to send, e.g. patient_attachment.processed; repeat for more.",
        ),
    ],
    description: Annotated[str | None, typer.Option("--description", help="A note.")] = None,
    api_base_url: Annotated[
        str | None,
        typer.Option(
            "--api-base-url",
            help="The API's URL as integrators call it: the links in payloads use it "
            "(default: http://HOST:PORT of the settings).",
        ),
    ] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Creates an endpoint and prints its id and its secret (whsec_..., shown only now),
    separated by a space."""
    from clinifile.errors import NotFound, ValidationFailed
    from clinifile.services import webhooks

    settings = load_settings(data_dir)
    base = (api_base_url or f"http://{settings.host}:{settings.port}").rstrip("/")
    with open_runtime(data_dir) as runtime:
        try:
            created = webhooks.create_for_account(
                runtime, account, url=url, events=event, description=description, api_base_url=base
            )
        except (NotFound, ValidationFailed) as error:
            raise _fail(str(error)) from None
    typer.echo(f"{created.endpoint.id} {created.secret}")


@webhooks_app.command("ls")
def webhooks_ls(account: AccountOption, data_dir: DataDirOption = None) -> None:
    """Lists the account's endpoints: id, enabled or why disabled, events, URL."""
    from clinifile.domain.queries import ListQuery
    from clinifile.services import webhooks

    with open_runtime(data_dir) as runtime:
        endpoints, _ = webhooks.page(runtime, account, ListQuery([], [], 1, 100))
    for endpoint in endpoints:
        state = (
            "enabled"
            if endpoint.enabled
            else f"disabled ({endpoint.disabled_reason or 'by the account'})"
        )
        typer.echo(f"{endpoint.id}\t{state}\t{','.join(endpoint.events.split())}\t{endpoint.url}")


@webhooks_app.command("delete")
def webhooks_delete(
    account: AccountOption,
    endpoint_id: Annotated[int, typer.Argument(help="The endpoint's id.", show_default=False)],
    data_dir: DataDirOption = None,
) -> None:
    """Deletes an endpoint and its delivery log; nothing more is sent to it."""
    from clinifile.errors import NotFound
    from clinifile.services import webhooks

    with open_runtime(data_dir) as runtime:
        try:
            webhooks.delete(runtime, account, endpoint_id)
        except NotFound as error:
            raise _fail(f"{error} in account {account}") from None
    typer.echo(f"deleted webhook endpoint {endpoint_id}", err=True)
