"""The completion of a processing job: one UPDATE, built once, that ends the worker's lease
with the attachment completed and what the job found recorded (the claim's counterpart in
db.attachments), and the size it recorded counted (db.size_counts) in the same transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session

from clinifile.db import size_counts
from clinifile.db.models import Attachment
from clinifile.db.types import utcnow
from clinifile.domain.states import AttachmentState

# what a completion records, each bound by name (as `v_<column>`: SQLAlchemy keeps a
# column's own name for its automatic parameters)
COMPLETION_FIELDS = (
    "filename",
    "content_type",
    "size",
    "checksum_sha256",
    "permanent_key",
    "processed_at",
    "scan_status",
    "scan_signature",
    "scanned_at",
    "scan_signature_version",
)


def _completion_statement() -> Any:
    """The completion's UPDATE, built once (as the claim's is: one per job)."""
    return (
        update(Attachment)
        .where(
            Attachment.id == bindparam("attachment_id"),
            Attachment.state == AttachmentState.PROCESSING,
            Attachment.lease_owner == bindparam("owner"),
        )
        .values(
            state=AttachmentState.COMPLETED,
            failure_reason=None,
            lease_owner=None,
            lease_expires_at=None,
            updated_at=bindparam("v_updated_at"),
            **{name: bindparam(f"v_{name}") for name in COMPLETION_FIELDS},
        )
        # what the size's count needs (archiving may have come during processing)
        .returning(Attachment.account_id, Attachment.archived_at)
        .execution_options(synchronize_session=False)
    )


_COMPLETE = _completion_statement()
# PostgreSQL: the completion and its size's count in one statement (one round trip)
_COMPLETE_COUNTED = size_counts.counting(_COMPLETE)


def mark_completed(session: Session, attachment_id: int, owner: str, **fields: Any) -> bool:
    """Ends owner's lease with the attachment completed and fields (every one of
    COMPLETION_FIELDS) recorded, its size counted; False when owner no longer holds it."""
    assert fields.keys() == set(COMPLETION_FIELDS), sorted(fields)
    params = {
        "attachment_id": attachment_id,
        "owner": owner,
        "v_updated_at": utcnow(),
        **{f"v_{name}": value for name, value in fields.items()},
    }
    # on the session's connection: Core SQL (the ORM takes an INSERT of a mapped class for
    # its own, and its execution of an UPDATE costs ~0.1 ms of CPU more a job)
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        params |= size_counts.band_params(attachment_id, fields["size"])
        return connection.execute(_COMPLETE_COUNTED, params).first() is not None
    row = connection.execute(_COMPLETE, params).first()
    if row is None:
        return False
    archived = row.archived_at is not None
    size_counts.sized(session, row.account_id, attachment_id, fields["size"], archived=archived)
    return True
