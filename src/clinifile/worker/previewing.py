"""The preview step: after a job completes (scanned clean, when scanning is on), its file's
previews are made in a child process (previews.sandbox) and stored beside it. Its own step:
whatever happens here, the attachment stays completed; a file that gets no preview has the
reason recorded (attachments.preview_reason), and one the store could not take is left for
`clinifile previews rebuild`.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from clinifile.db import previews as previews_db
from clinifile.db.models import Attachment
from clinifile.domain.states import AttachmentState
from clinifile.errors import StorageError
from clinifile.previews.render import kind_of
from clinifile.previews.sandbox import Bounds, Outcome, make
from clinifile.runtime import Runtime
from clinifile.services.object_keys import preview_keys, preview_prefix

log = logging.getLogger(__name__)

READY = "ready"
NONE = "none"
CHUNK = 1024 * 1024


def after_job(runtime: Runtime, attachment_id: int) -> None:
    """The worker's step after each job: never raises, never fails the attachment."""
    if not runtime.settings.preview_enabled:
        return
    try:
        make_previews(runtime, attachment_id)
    except Exception:
        log.exception(
            "attachment %s: previews not made; the attachment is unaffected", attachment_id
        )


def bounds(runtime: Runtime) -> Bounds:
    s = runtime.settings
    return Bounds(
        s.preview_seconds, s.preview_memory_mb, s.preview_max_pixels, s.preview_max_pdf_pages
    )


def make_previews(
    runtime: Runtime, attachment_id: int, *, record_unsupported: bool = False
) -> str | None:
    """Makes and records the previews of a completed attachment that has none yet; returns
    the preview state recorded (None: nothing to do, or the store failed: try again later)."""
    with runtime.sessions() as session:
        row = session.get(Attachment, attachment_id)
    if row is None or row.state != AttachmentState.COMPLETED or row.permanent_key is None:
        return None
    if row.preview_state is not None:
        return None
    kind = kind_of(row.content_type, row.filename)
    if kind is None:
        if record_unsupported:
            return _record(runtime, row, NONE, f"no preview for {row.content_type}", None)
        return None
    if (row.size or 0) > runtime.settings.preview_max_bytes:
        return _record(runtime, row, NONE, f"over {runtime.settings.preview_max_bytes} bytes", None)
    try:
        return _made(runtime, row, kind)
    except StorageError as error:
        log.warning(
            "attachment %s: previews not stored (will be retried by a rebuild): %s", row.id, error
        )
        return None


def _made(runtime: Runtime, row: Attachment, kind: str) -> str | None:
    assert row.permanent_key is not None
    store = runtime.store(row.region)
    with tempfile.TemporaryDirectory(prefix="clinifile-preview-") as folder:
        source = Path(folder) / "source"
        opened = store.open(row.permanent_key, chunk_size=CHUNK)
        if opened is None:
            return _record(runtime, row, NONE, "the stored file is missing", None)
        _info, chunks = opened
        with source.open("wb") as out:
            for chunk in chunks:
                out.write(chunk)
        outcome = make(source, kind, Path(folder), bounds(runtime))
        if not outcome.ok:
            log.info("attachment %s: no preview: %s", row.id, outcome.reason)
            return _record(runtime, row, NONE, outcome.reason, None)
        prefix = preview_prefix(row.permanent_key)
        _store(runtime, row, prefix, outcome)
    return _record(runtime, row, READY, None, prefix)


def _store(runtime: Runtime, row: Attachment, prefix: str, outcome: Outcome) -> None:
    store = runtime.store(row.region)
    assert outcome.small is not None and outcome.large is not None
    small, large = preview_keys(prefix)
    store.put(small, outcome.small.read_bytes(), content_type="image/webp")
    store.put(large, outcome.large.read_bytes(), content_type="image/webp")


def _record(
    runtime: Runtime, row: Attachment, state: str, reason: str | None, prefix: str | None
) -> str | None:
    assert row.permanent_key is not None
    with runtime.transaction() as session:
        won = previews_db.record(
            session,
            row.id,
            permanent_key=row.permanent_key,
            state=state,
            reason=reason,
            prefix=prefix,
        )
    if won:
        log.info(
            "attachment %s: preview %s", row.id, state if reason is None else f"{state}: {reason}"
        )
        return state
    # quarantined meanwhile: its previews go as its file went
    runtime.store(row.region).delete_many(preview_keys(prefix))
    return None
