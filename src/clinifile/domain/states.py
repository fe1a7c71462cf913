"""The attachment's processing states.

    pending ──claim──▶ processing ──▶ completed
       ▲                   │            │  ▲
       └──retry (backoff)──┤    rescan  │  │  release (an operator)
                           │            ▼  │
                           ├──────▶ quarantined ──delete (an operator)──▶ failed
                           │        (infected, or a blocked type)
                           └──▶ failed (retry budget spent, missing object, over quota)

Every transition is one compare-and-set UPDATE (db.attachments, db.quarantine).
"""

from __future__ import annotations

from enum import StrEnum


class AttachmentState(StrEnum):
    PENDING = "pending"  # waiting for a worker (or for its next retry time)
    PROCESSING = "processing"  # leased by a worker until lease_expires_at
    COMPLETED = "completed"  # permanent object in place, fields filled, temp deleted
    FAILED = "failed"  # given up; failure_reason says why; reserved bytes released
    QUARANTINED = "quarantined"  # not served: moved to the quarantine prefix, bytes still
    # counted, failure_reason says why, until an operator releases or deletes it


class ScanStatus(StrEnum):
    CLEAN = "clean"  # clamd found nothing (scanned_at, with scan_signature_version)
    INFECTED = "infected"  # clamd found scan_signature
    NOT_SCANNED = "not_scanned"  # never scanned: scanning was off, or not done yet
