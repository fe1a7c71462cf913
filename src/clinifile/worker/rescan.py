"""Re-scanning stored files with the signatures clamd has now: signatures improve after a
file is stored.

Each completed attachment not yet scanned with clamd's current signature version is read
once, streamed (its SHA-256 checked, every chunk to clamd), at a bounded pace; a clean one
records when and with which version it was scanned, an infected one is quarantined (its
downloads stop). Progress is the database itself: a rescan stopped at any point and started
again skips what was already scanned with these signatures.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from clinifile.db import quarantine as quarantine_db
from clinifile.db.models import Attachment
from clinifile.runtime import Runtime
from clinifile.scanning.clamd import Clamd
from clinifile.worker.promotion import read_scanned
from clinifile.worker.quarantine import quarantine_stored
from clinifile.worker.steps import scan_fields

log = logging.getLogger(__name__)

BATCH = 100


class Pace:
    """At most files_per_second files and bytes_per_second bytes, on average since it
    started (None: no bound)."""

    def __init__(
        self,
        files_per_second: float | None,
        bytes_per_second: float | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.files_per_second = files_per_second
        self.bytes_per_second = bytes_per_second
        self.clock = clock
        self.sleep = sleep
        self.started = clock()
        self.files = 0
        self.bytes = 0

    def wait(self) -> None:
        """Sleeps until the next file keeps within both bounds."""
        due = max(
            self.files / self.files_per_second if self.files_per_second else 0.0,
            self.bytes / self.bytes_per_second if self.bytes_per_second else 0.0,
        )
        ahead = due - (self.clock() - self.started)
        if ahead > 0:
            self.sleep(ahead)

    def spent(self, size: int) -> None:
        self.files += 1
        self.bytes += size


@dataclass
class RescanReport:
    version: str
    clean: int = 0
    # attachment id → the signature found
    quarantined: dict[int, str] = field(default_factory=dict)
    # completed attachments whose object is gone, or no longer matches its checksum
    missing: list[int] = field(default_factory=list)
    changed: list[int] = field(default_factory=list)

    @property
    def scanned(self) -> int:
        return self.clean + len(self.quarantined) + len(self.changed)


def _rescan_one(
    runtime: Runtime, scanner: Clamd, row: Attachment, actor: str, report: RescanReport
) -> int:
    """Scans one stored file; returns the bytes read."""
    assert row.permanent_key is not None
    store = runtime.store(row.region)
    info = store.head(row.permanent_key)
    if info is None:
        log.error("rescan: attachment %s has no object at its permanent key", row.id)
        report.missing.append(row.id)
        return 0
    digest, scan = read_scanned(store, info, 0, scanner)
    assert scan is not None
    if digest.sha256 != row.checksum_sha256:
        log.error("rescan: attachment %s no longer matches its checksum", row.id)
        report.changed.append(row.id)
    if scan.signature is not None:
        if quarantine_stored(runtime, row, info, digest.sha256, scan, actor):
            report.quarantined[row.id] = scan.signature
        return info.size
    with runtime.transaction() as session:
        quarantine_db.record_scan(
            session, row.id, permanent_key=row.permanent_key, **scan_fields(scan)
        )
    report.clean += 1
    return info.size


def rescan(
    runtime: Runtime,
    *,
    actor: str,
    since: datetime | None = None,
    account_id: int | None = None,
    pace: Pace | None = None,
    stop: threading.Event | None = None,
    progress: Callable[[Attachment, RescanReport], None] | None = None,
) -> RescanReport:
    """Rescans every stored file (created at or after since; of one account) that clamd's
    current signatures have not scanned; a ScanError (clamd down) ends it, resumable."""
    scanner = runtime.scanner
    if scanner is None:
        raise ValueError("scanning is off (CLINIFILE_SCAN): there is no clamd to rescan with")
    pace = pace or Pace(None, None)
    report = RescanReport(version=scanner.version())
    after = 0
    while stop is None or not stop.is_set():
        with runtime.sessions() as session:
            batch = quarantine_db.rescan_batch(
                session,
                after_id=after,
                version=report.version,
                since=since,
                account_id=account_id,
                limit=BATCH,
            )
        if not batch:
            break
        for row in batch:
            if stop is not None and stop.is_set():
                break
            pace.wait()
            pace.spent(_rescan_one(runtime, scanner, row, actor, report))
            after = row.id
            if progress is not None:
                progress(row, report)
    return report
