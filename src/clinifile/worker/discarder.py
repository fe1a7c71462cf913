"""The uploads of recorded attachments, deleted beside the processing: a processing loop
records its job as completed and goes on to the next one while this thread deletes the
upload it read. The store makes the same request per job as when the loop deleted the
upload itself, but the job waits for one request fewer. An upload left behind (the
process stopped first, or the store refused) is deleted by the sweep, which removes the
uploads of finished attachments at any age (worker.sweep).
"""

from __future__ import annotations

import functools
import logging

from clinifile.errors import StorageError
from clinifile.runtime import Runtime
from clinifile.worker.background import QUEUE_BOUND, Background

log = logging.getLogger(__name__)

# (region, key) of an upload whose attachment is recorded
Upload = tuple[str, str]


def discard(runtime: Runtime, upload: Upload) -> None:
    """Deletes the upload; if the store fails, the sweep deletes it later."""
    region, key = upload
    try:
        runtime.store(region).delete(key)
    except StorageError as error:
        log.warning("upload %s not deleted (%s); the sweep will", key, error)


def _dropped(upload: Upload) -> None:
    log.warning("%d uploads wait to be deleted; %s is left for the sweep", QUEUE_BOUND, upload[1])


def _left(count: int) -> None:
    log.info("%d uploads of recorded attachments left for the sweep to delete", count)


def discarder(runtime: Runtime, name: str) -> Background[Upload]:
    """Deletes the uploads submitted; a stop deletes what is queued, within its timeout."""
    return Background(
        name,
        functools.partial(discard, runtime),
        dropped=_dropped,
        left=_left,
        finish_on_stop=True,
    )
