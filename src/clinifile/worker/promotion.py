"""Moving one upload to its permanent key: the storage half of processing.

The worker reads the upload once, streamed: the first bytes tell its type, every byte goes
into its SHA-256 and, when scanning is on, to clamd (INSTREAM) chunk by chunk, so no file is
ever whole in memory. Each step is safe to repeat after a crash at any point:
  temp present                  → read, copy (if-match the temp ETag) over whatever is at the
                                  permanent key, and verify the copy
  temp absent, permanent present → an earlier run copied, verified and deleted
  both absent                    → the upload is missing
The temp object is deleted only after the copy is verified: its ETag (the store's own hash of
its content) is the upload's, whose bytes were read and hashed; or, when the store's ETags
are not content hashes (multipart, SSE-KMS), the copy read back has the upload's SHA-256.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime

from clinifile.db.types import utcnow
from clinifile.errors import ObjectNotFound, StorageError
from clinifile.scanning.clamd import Clamd
from clinifile.services.filenames import content_disposition
from clinifile.services.sniffing import detect_content_type
from clinifile.storage.base import ObjectInfo, ObjectStore

CHUNK_BYTES = 1024 * 1024
# S3's CopyObject copies at most 5 GiB; a larger object is copied in parts of this size
SINGLE_COPY_MAX_BYTES = 5 * 1024**3
COPY_PART_BYTES = 512 * 1024 * 1024


class UploadMissing(ObjectNotFound):
    pass


class CopyMismatch(StorageError):
    pass


@dataclass(frozen=True)
class Digest:
    """What one streamed read of an object found."""

    sha256: str
    head: bytes


@dataclass(frozen=True)
class Scan:
    """clamd's verdict on the bytes read: the signature found (None: clean), and the
    engine and signature versions that gave it."""

    signature: str | None
    version: str
    scanned_at: datetime


@dataclass(frozen=True)
class Source:
    """What the job will keep: the object, its detected type and checksum, where it is,
    and its scan (None when scanning is off)."""

    info: ObjectInfo
    content_type: str
    sha256: str
    already_promoted: bool
    scan: Scan | None = None


def digest_chunks(
    chunks: Iterable[bytes],
    info: ObjectInfo,
    head_bytes: int,
    feed: Callable[[bytes], None] | None = None,
) -> Digest:
    """SHA-256 of chunks, the whole of the object info describes, and its first head_bytes,
    each chunk also given to feed; StorageError if they are other than info.size bytes."""
    hasher = hashlib.sha256()
    head = bytearray()
    size = 0
    for chunk in chunks:
        hasher.update(chunk)
        if feed is not None:
            feed(chunk)
        size += len(chunk)
        if len(head) < head_bytes:
            head += chunk[: head_bytes - len(head)]
    if size != info.size:
        raise StorageError(f"read {size} bytes of {info.key!r}, expected {info.size}")
    return Digest(sha256=hasher.hexdigest(), head=bytes(head))


def read_digest(
    store: ObjectStore,
    info: ObjectInfo,
    head_bytes: int,
    feed: Callable[[bytes], None] | None = None,
) -> Digest:
    """digest_chunks of one streamed read of the version with info's ETag."""
    chunks = store.iter_chunks(info.key, if_match=info.etag, chunk_size=CHUNK_BYTES)
    return digest_chunks(chunks, info, head_bytes, feed)


def scan_chunks(
    chunks: Iterable[bytes], info: ObjectInfo, head_bytes: int, scanner: Clamd | None
) -> tuple[Digest, Scan | None]:
    """digest_chunks, with every chunk streamed to clamd too when there is a scanner; a
    ScanError when clamd gives no verdict (never a Scan that was not made)."""
    if scanner is None:
        return digest_chunks(chunks, info, head_bytes), None
    version = scanner.version()
    with scanner.instream() as stream:
        digest = digest_chunks(chunks, info, head_bytes, feed=stream.send)
        verdict = stream.verdict()
    return digest, Scan(verdict.signature, version, utcnow())


def read_scanned(
    store: ObjectStore, info: ObjectInfo, head_bytes: int, scanner: Clamd | None
) -> tuple[Digest, Scan | None]:
    """scan_chunks of one streamed read of the version with info's ETag."""
    chunks = store.iter_chunks(info.key, if_match=info.etag, chunk_size=CHUNK_BYTES)
    return scan_chunks(chunks, info, head_bytes, scanner)


def inspect(
    store: ObjectStore,
    temp_key: str,
    permanent_key: str,
    filename: str,
    sniff_bytes: int,
    scanner: Clamd | None = None,
) -> Source:
    """Finds the bytes to keep, detects their type, computes their SHA-256 and, with a
    scanner, scans them, all from the one GET that also tells their size and ETag."""
    opened = store.open(temp_key, chunk_size=CHUNK_BYTES)
    already_promoted = opened is None
    if opened is None:
        opened = store.open(permanent_key, chunk_size=CHUNK_BYTES)
    if opened is None:
        raise UploadMissing(f"uploaded object {temp_key!r} does not exist")
    found, chunks = opened
    with closing(chunks):
        digest, scan = scan_chunks(chunks, found, sniff_bytes, scanner)
    return Source(
        info=found,
        content_type=detect_content_type(digest.head, filename),
        sha256=digest.sha256,
        already_promoted=already_promoted,
        scan=scan,
    )


def copy_verified(
    store: ObjectStore, source: Source, permanent_key: str, filename: str
) -> ObjectInfo:
    """Copies the source to permanent_key server-side (over whatever is there: an earlier
    run's copy or anything else) and checks the copy's size and SHA-256 against the
    upload's; CopyMismatch if they differ. The upload stays."""
    if source.info.size > SINGLE_COPY_MAX_BYTES:
        # over one CopyObject's limit: copied part by part inside the store (UploadPartCopy)
        etag = store.copy_multipart(
            source.info.key,
            permanent_key,
            if_match=source.info.etag,
            size=source.info.size,
            part_size=max(COPY_PART_BYTES, -(-source.info.size // 10_000)),
            content_type=source.content_type,
            content_disposition=content_disposition(filename),
        )
    else:
        etag = store.copy(
            source.info.key,
            permanent_key,
            if_match=source.info.etag,
            content_type=source.content_type,
            content_disposition=content_disposition(filename),
        )
    copied = ObjectInfo(key=permanent_key, size=source.info.size, etag=etag)
    if etag == source.info.etag:
        # the store's own content hash of the copy is the upload's, whose bytes were hashed
        return copied
    if read_digest(store, copied, 0).sha256 != source.sha256:
        raise CopyMismatch(
            f"copy of {source.info.key!r} to {permanent_key!r} does not match its source"
        )
    return copied


def promote(store: ObjectStore, source: Source, permanent_key: str, filename: str) -> ObjectInfo:
    """Puts the source at permanent_key, verified; nothing to do when an earlier run already
    did. The upload stays until the attachment is recorded (then it is discarded)."""
    if source.already_promoted:
        return source.info
    return copy_verified(store, source, permanent_key, filename)
