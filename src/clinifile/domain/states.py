"""The attachment's processing states.

    pending ──claim──▶ processing ──▶ completed
       ▲                   │
       └──retry (backoff)──┤
                           └──▶ failed (retry budget spent, missing object, over quota)

Every transition is one compare-and-set UPDATE in db.attachments.
"""

from __future__ import annotations

from enum import StrEnum


class AttachmentState(StrEnum):
    PENDING = "pending"  # waiting for a worker (or for its next retry time)
    PROCESSING = "processing"  # leased by a worker until lease_expires_at
    COMPLETED = "completed"  # permanent object in place, fields filled, temp deleted
    FAILED = "failed"  # given up; failure_reason says why; reserved bytes released
