"""The previews of a worker process, made beside its processing: each processing loop hands
the attachments it completed to one previewer thread, so a file that takes seconds to
preview (a 100-megapixel photo, a heavy PDF) holds up no other file's processing. What is
queued when the process stops (or past the queue's bound) gets its previews from
`clinifile previews rebuild`.
"""

from __future__ import annotations

import functools
import logging

from clinifile.runtime import Runtime
from clinifile.worker import previewing
from clinifile.worker.background import QUEUE_BOUND, Background

log = logging.getLogger(__name__)


def _dropped(attachment_id: int) -> None:
    log.warning(
        "attachment %s: %d files wait for previews; this one is left for "
        "`clinifile previews rebuild`",
        attachment_id,
        QUEUE_BOUND,
    )


def _left(count: int) -> None:
    log.info("%d completed files left without previews: `clinifile previews rebuild`", count)


def previewer(runtime: Runtime, name: str) -> Background[int]:
    """Makes the previews of the attachment ids submitted; a stop ends after the preview
    being made (the rest are left for a rebuild). previewing.after_job never raises: a
    preview that cannot be made never fails the attachment."""
    return Background(
        name,
        functools.partial(previewing.after_job, runtime),
        dropped=_dropped,
        left=_left,
        finish_on_stop=False,
    )
