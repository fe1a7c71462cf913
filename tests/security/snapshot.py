"""Everything an attack could change: every row of every table, and every object (key,
size, ETag) under the prefixes of the database's accounts in every region's bucket."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from clinifile.db.models import Base
from clinifile.runtime import Runtime
from tests.objects import list_keys


def snapshot(runtime: Runtime) -> dict[str, Any]:
    state: dict[str, Any] = {}
    with runtime.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            order = list(table.primary_key.columns)
            state[table.name] = [tuple(row) for row in conn.execute(select(table).order_by(*order))]
    account_ids = [row[0] for row in state["accounts"]]
    for region in runtime.settings.regions:
        store = runtime.store(region.name)
        state[f"objects:{region.name}"] = sorted(
            (o.key, o.size, o.etag)
            for account_id in account_ids
            for o in list_keys(store, f"{account_id}/")
        )
    return state
