"""Deletes uploads nobody will process:
- abandoned: temp objects no attachment claims, older than an age (the client never
  registered them, or registration refused them);
- left over: temp objects whose attachment is already completed, failed or quarantined (a
  quarantined file's bytes were copied to the quarantine prefix), at any age. The worker
  deletes the upload when it finishes, but the presigned post stays valid for its expiry,
  and a client can post to the same key again after that; nothing would count or remove
  those bytes otherwise.
Objects whose attachment is pending or being processed are never deleted here.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select

from clinifile.db import attachments as attachments_db
from clinifile.db.models import Account
from clinifile.db.types import utcnow
from clinifile.domain.states import AttachmentState
from clinifile.errors import StorageError
from clinifile.runtime import Runtime
from clinifile.storage.base import ObjectInfo, ObjectStore
from clinifile.worker.sweep_multipart import sweep_multipart

log = logging.getLogger(__name__)

TEMP_MARK = "/attachments/temp/"


FINISHED = {AttachmentState.COMPLETED, AttachmentState.FAILED, AttachmentState.QUARANTINED}


def _doomed(info: ObjectInfo, state: AttachmentState | None, cutoff: datetime) -> bool:
    if state is None:
        return info.last_modified is not None and info.last_modified <= cutoff
    return state in FINISHED


def _delete(store: ObjectStore, keys: list[str]) -> int:
    """Deletes keys; a store that refuses some (a bucket policy, an object lock) or fails
    is logged and the sweep goes on with the next batch, so one stuck object cannot keep
    every later account's abandoned uploads in the store. Returns how many went."""
    try:
        store.delete_many(keys)
    except StorageError as error:
        log.warning("sweep could not delete %d uploads (will try again): %s", len(keys), error)
        return 0
    return len(keys)


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
                temps = [o for o in page if TEMP_MARK in o.key]
                for start in range(0, len(temps), settings.sweep_batch_size):
                    batch = temps[start : start + settings.sweep_batch_size]
                    with runtime.sessions() as session:
                        states = attachments_db.temp_key_states(session, [o.key for o in batch])
                    doomed = [o.key for o in batch if _doomed(o, states.get(o.key), cutoff)]
                    deleted += _delete(store, doomed)
    if deleted:
        log.info("sweep deleted %d abandoned uploads", deleted)
    # multipart uploads past their expiry (plus the same margin), or that no upload names
    sweep_multipart(runtime, age)
    return deleted
