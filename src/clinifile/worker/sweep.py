"""Deletes abandoned uploads: temp objects that no attachment claims, older than an age.

An upload becomes abandoned when the client never registers it. Objects that back an
attachment (in any state) are never deleted here.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select

from clinifile.db import attachments as attachments_db
from clinifile.db.models import Account
from clinifile.db.types import utcnow
from clinifile.runtime import Runtime

log = logging.getLogger(__name__)

TEMP_MARK = "/attachments/temp/"


def sweep(runtime: Runtime, min_age_seconds: float | None = None) -> int:
    """One pass over every region; returns how many objects were deleted."""
    settings = runtime.settings
    age = settings.sweep_min_age_seconds if min_age_seconds is None else min_age_seconds
    cutoff = utcnow() - timedelta(seconds=age)
    deleted = 0
    for region in settings.regions:
        store = runtime.store(region.name)
        with runtime.sessions() as session:
            account_ids = list(
                session.scalars(select(Account.id).where(Account.region == region.name))
            )
        for account_id in account_ids:
            for page in store.iter_keys(f"{account_id}/patients/"):
                old = [
                    o.key
                    for o in page
                    if TEMP_MARK in o.key
                    and o.last_modified is not None
                    and o.last_modified <= cutoff
                ]
                for start in range(0, len(old), settings.sweep_batch_size):
                    batch = old[start : start + settings.sweep_batch_size]
                    with runtime.sessions() as session:
                        claimed = attachments_db.claimed_temp_keys(session, batch)
                    doomed = [k for k in batch if k not in claimed]
                    store.delete_many(doomed)
                    deleted += len(doomed)
    if deleted:
        log.info("sweep deleted %d abandoned uploads", deleted)
    return deleted
