"""Webhook events: written to the outbox in the transaction of the change they report, so
an event exists if and only if its change was committed, and no receiver hears of a change
before it is visible.

`emit` stores the attachment's columns as the transaction leaves them (the payload's `data`
is rendered from that snapshot, exactly as `GET` would have shown the record then) and one
delivery per enabled endpoint of the account that takes the type. After the commit it wakes
this process's delivery loop; other processes find the deliveries by polling.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import event as sqlalchemy_event
from sqlalchemy import inspect as sqlalchemy_inspect
from sqlalchemy.orm import Session

from clinifile.db import webhook_deliveries as deliveries_db
from clinifile.db import webhooks as webhooks_db
from clinifile.db.models import Attachment
from clinifile.db.types import UTCDateTime


class EventType(StrEnum):
    CREATED = "patient_attachment.created"  # registered (step 3); processing follows
    PROCESSED = "patient_attachment.processed"  # processing completed: the file is served
    FAILED = "patient_attachment.failed"  # processing gave up; processing_error says why
    QUARANTINED = "patient_attachment.quarantined"  # infected or a blocked type: not served
    UPDATED = "patient_attachment.updated"  # its description changed, or it was unarchived
    ARCHIVED = "patient_attachment.archived"  # archived (by POST .../archive or DELETE)


EVENT_TYPES = tuple(t.value for t in EventType)

_outbox_written = threading.Event()


def wait_for_events(timeout: float) -> None:
    """Returns when a transaction of this process committed an event, or after timeout."""
    _outbox_written.wait(timeout)
    _outbox_written.clear()


def wake() -> None:
    _outbox_written.set()


def _now() -> datetime:
    """The event's time to the microsecond (the payload's timestamp)."""
    return datetime.now(UTC)


def snapshot(attachment: Attachment) -> str:
    """The attachment's columns as JSON (times as ISO 8601)."""
    values: dict[str, Any] = {}
    for column in sqlalchemy_inspect(Attachment).columns:
        value = getattr(attachment, column.key)
        values[column.key] = value.isoformat() if isinstance(value, datetime) else value
    return json.dumps(values)


def restore(text: str) -> Attachment:
    """A detached Attachment with the columns of a snapshot (columns added since are None)."""
    values = json.loads(text)
    fields: dict[str, Any] = {}
    for column in sqlalchemy_inspect(Attachment).columns:
        value = values.get(column.key)
        if isinstance(column.type, UTCDateTime) and value is not None:
            value = datetime.fromisoformat(value)
        fields[column.key] = value
    return Attachment(**fields)


def emit_for(
    session: Session, event_type: EventType, attachment_id: int, *, account_id: int | None = None
) -> None:
    """emit for an attachment changed by an UPDATE statement in session's transaction;
    given its account, the attachment is read only when an endpoint takes the type."""
    if account_id is not None and not webhooks_db.subscribed(session, account_id, event_type.value):
        return
    attachment = session.get(Attachment, attachment_id)
    if attachment is not None:
        emit(session, event_type, attachment)


def emit(session: Session, event_type: EventType, attachment: Attachment) -> None:
    """Writes the event and its deliveries in session's transaction (call it after the
    change, with the attachment as the change left it; flushed and re-read here). Nothing is
    written when no enabled endpoint of the account takes the type."""
    endpoint_ids = webhooks_db.subscribed(session, attachment.account_id, event_type.value)
    if not endpoint_ids:
        return
    session.flush()
    session.refresh(attachment)
    now = _now()
    event = webhooks_db.append_event(
        session,
        account_id=attachment.account_id,
        event_type=event_type.value,
        attachment_id=attachment.id,
        snapshot=snapshot(attachment),
        occurred_at=now,
    )
    deliveries_db.enqueue(
        session,
        account_id=attachment.account_id,
        event_id=event.id,
        endpoint_ids=endpoint_ids,
        now=now.replace(microsecond=0),
    )
    if not session.info.get(_WAKE):
        session.info[_WAKE] = True
        sqlalchemy_event.listen(session, "after_commit", _wake_after_commit, once=True)


_WAKE = "clinifile.wake_deliveries"


def _wake_after_commit(session: Session) -> None:
    session.info.pop(_WAKE, None)
    wake()
