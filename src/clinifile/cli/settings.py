"""Settings and runtime as CLI commands open them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from clinifile.config import Settings

if TYPE_CHECKING:
    from clinifile.runtime import Runtime

DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Where the database, files and secrets live [env: CLINIFILE_DATA_DIR; "
        "default: ./clinifile-data].",
        show_default=False,
    ),
]


def load_settings(data_dir: Path | None, **overrides: Any) -> Settings:
    values = {k: v for k, v in overrides.items() if v is not None}
    if data_dir is not None:
        values["data_dir"] = data_dir
    return Settings(**values)


def with_embedded_store(settings: Settings) -> Settings:
    """The settings pointed at the embedded SeaweedFS a `serve` keeps under the data
    directory, when no external store is configured: a worker or an operator command on the
    same machine then reaches the same files."""
    from clinifile.storage.seaweed import embedded_store_of

    if settings.s3_endpoint_url is not None or all(r.endpoint_url for r in settings.regions):
        return settings
    found = embedded_store_of(settings.data_dir / "seaweedfs")
    if found is None:
        return settings
    endpoint, credentials = found
    return settings.model_copy(
        update={
            "s3_endpoint_url": endpoint,
            "s3_access_key_id": credentials.access_key_id,
            "s3_secret_access_key": credentials.secret_access_key,
        }
    )


@contextmanager
def open_runtime(data_dir: Path | None) -> Iterator[Runtime]:
    """A runtime on an up-to-date database (works while `serve` runs)."""
    # imported here: the client commands (upload, ls) stay light without the server's parts
    from clinifile.db.migrate import upgrade
    from clinifile.runtime import build_runtime

    settings = load_settings(data_dir)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url())
    runtime = build_runtime(settings)
    try:
        yield runtime
    finally:
        runtime.close()
