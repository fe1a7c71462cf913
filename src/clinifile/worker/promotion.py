"""Moving one upload to its permanent key: the storage half of processing.

Each step is safe to repeat after a crash at any point:
  temp present, permanent absent or different  → sniff, copy (if-match the temp ETag), verify
  temp present, permanent already the same     → skip the copy
  temp absent, permanent present               → an earlier run copied, verified and deleted
  both absent                                  → the upload is missing
The temp object is deleted only after the permanent copy is verified.
"""

from __future__ import annotations

from dataclasses import dataclass

from clinifile.errors import ObjectNotFound, StorageError
from clinifile.services.filenames import content_disposition
from clinifile.services.sniffing import detect_content_type
from clinifile.storage.base import ObjectInfo, ObjectStore


class UploadMissing(ObjectNotFound):
    pass


class CopyMismatch(StorageError):
    pass


@dataclass(frozen=True)
class Source:
    """What the job will keep: the object, its detected type, where it is now."""

    info: ObjectInfo
    content_type: str
    already_promoted: bool


def _same_object(a: ObjectInfo, b: ObjectInfo) -> bool:
    if a.size != b.size:
        return False
    # a multipart ETag ("...-N") is not an MD5 and may differ after a copy
    return "-" in a.etag or "-" in b.etag or a.etag == b.etag


def inspect(
    store: ObjectStore, temp_key: str, permanent_key: str, filename: str, sniff_bytes: int
) -> Source:
    """Finds the bytes to keep and detects their type from a ranged GET of the head."""
    temp = store.head(temp_key)
    if temp is None:
        permanent = store.head(permanent_key)
        if permanent is None:
            raise UploadMissing(f"uploaded object {temp_key!r} does not exist")
        head = store.read_range(permanent_key, 0, sniff_bytes)
        return Source(permanent, detect_content_type(head, filename), already_promoted=True)
    head = store.read_range(temp_key, 0, sniff_bytes)
    return Source(temp, detect_content_type(head, filename), already_promoted=False)


def promote(store: ObjectStore, source: Source, permanent_key: str, filename: str) -> ObjectInfo:
    """Copies the source to permanent_key server-side, verifies it, deletes the temp."""
    if source.already_promoted:
        return source.info
    existing = store.head(permanent_key)
    if existing is None or not _same_object(existing, source.info):
        store.copy(
            source.info.key,
            permanent_key,
            if_match=source.info.etag,
            content_type=source.content_type,
            content_disposition=content_disposition(filename),
        )
        existing = store.head(permanent_key)
        if existing is None or not _same_object(existing, source.info):
            raise CopyMismatch(
                f"copy of {source.info.key!r} to {permanent_key!r} does not match its source"
            )
    store.delete(source.info.key)
    return existing
