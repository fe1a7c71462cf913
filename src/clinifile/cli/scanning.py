"""How `serve` and `worker` settle CLINIFILE_SCAN at start-up (scanning.runner's table): the
settings they build the runtime with name the clamd to use, or say scanning is off."""

from __future__ import annotations

import logging
from contextlib import ExitStack
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from clinifile.config import Settings

log = logging.getLogger("clinifile.scanning")

OWN_CLAMD_DIR = "clamd"


def settle_scanning(settings: Settings, stack: ExitStack, *, run_own: bool) -> Settings:
    """The settings with scan "clamd" and an address, or scan "off" (warned about unless
    chosen). With run_own (serve), starts a private clamd when one is called for, stopped
    when stack closes; without (worker), uses the one a `serve` of the same data directory
    runs. Exits with status 2 and the reason when scanning is asked for but cannot be."""
    from clinifile.scanning.runner import ClamdNotFound, EmbeddedClamd, database_dir, plan

    try:
        decided = plan(settings)
        if decided.warning:
            log.warning("%s", decided.warning)
        address = decided.address
        if decided.run_own and run_own:
            clamd = EmbeddedClamd(
                settings.data_dir / OWN_CLAMD_DIR,
                database_dir(settings),
                binary=settings.clamd_binary,
                max_file_bytes=settings.max_file_size_bytes,
            )
            clamd.start()
            stack.callback(clamd.stop)
            address = clamd.address
        elif decided.run_own:
            address = _serves_clamd(settings)
    except ClamdNotFound as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    if address is None:
        return settings.model_copy(update={"scan": "off"})
    log.info("scanning every upload with clamd at %s", address)
    return settings.model_copy(update={"scan": "clamd", "clamd_address": address})


def _serves_clamd(settings: Settings) -> str:
    from clinifile.scanning.runner import ClamdNotFound

    sock = (settings.data_dir / OWN_CLAMD_DIR / "clamd.sock").resolve()
    if not sock.exists():
        raise ClamdNotFound(
            "scanning is on (a clamd and signatures are here, or CLINIFILE_SCAN=clamd), but "
            "`clinifile worker` runs no clamd of its own and no `clinifile serve` on this data "
            f"directory runs one ({sock} does not exist): set CLINIFILE_CLAMD_ADDRESS, or "
            "CLINIFILE_SCAN=off to process files unscanned"
        )
    return f"unix:{sock}"
