"""What the benchmarks share: a migrated runtime on an embedded SeaweedFS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clinifile.config import Settings
from clinifile.db.migrate import upgrade
from clinifile.runtime import Runtime, build_runtime, ensure_buckets
from clinifile.storage.seaweed import EmbeddedSeaweed


def runtime_on(weed: EmbeddedSeaweed, data_dir: Path, **overrides: Any) -> Runtime:
    """Settings pointing at the started weed, the database migrated, the buckets made."""
    assert weed.credentials is not None
    settings = Settings(
        data_dir=data_dir,
        s3_endpoint_url=weed.endpoint_url,
        s3_access_key_id=weed.credentials.access_key_id,
        s3_secret_access_key=weed.credentials.secret_access_key,
        **overrides,
    )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url())
    runtime = build_runtime(settings)
    ensure_buckets(runtime)
    return runtime
