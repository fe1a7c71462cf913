"""`clinifile previews rebuild`: previews for files stored before previews existed (or whose
preview the store could not take). Resumable: it takes only completed files with no preview
state yet, in id order, so a stopped run started again goes on where it was; bounded: at most
preview_rebuild_per_second files a second, one at a time."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from clinifile.db import previews as previews_db
from clinifile.runtime import Runtime
from clinifile.worker.previewing import make_previews

log = logging.getLogger(__name__)

BATCH = 100


@dataclass
class RebuildReport:
    seen: int = 0
    states: dict[str, int] = field(default_factory=dict)


def rebuild(
    runtime: Runtime,
    *,
    account_id: int | None = None,
    since: datetime | None = None,
    per_second: float | None = None,
    limit: int | None = None,
    progress: Callable[[int, str | None], None] | None = None,
) -> RebuildReport:
    rate = per_second if per_second is not None else runtime.settings.preview_rebuild_per_second
    interval = 1.0 / rate if rate > 0 else 0.0
    report = RebuildReport()
    after_id = 0
    while limit is None or report.seen < limit:
        with runtime.sessions() as session:
            ids = previews_db.rebuild_batch(
                session, after_id=after_id, limit=BATCH, account_id=account_id, since=since
            )
        if not ids:
            break
        for attachment_id in ids:
            if limit is not None and report.seen >= limit:
                break
            started = time.monotonic()
            state = make_previews(runtime, attachment_id, record_unsupported=True)
            report.seen += 1
            key = state or "skipped"
            report.states[key] = report.states.get(key, 0) + 1
            if progress is not None:
                progress(attachment_id, state)
            after_id = attachment_id
            pause = interval - (time.monotonic() - started)
            if pause > 0:
                time.sleep(pause)
    log.info("previews rebuild: %d files, %s", report.seen, report.states)
    return report
