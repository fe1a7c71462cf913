"""The storage interface every backend implements, with its contracts.

All keys are full object keys inside the store's one bucket. Backends turn their vendor
errors into clinifile.errors: ObjectNotFound, PreconditionFailed, StorageUnavailable;
anything they do not understand is re-raised as it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str  # without quotes
    content_type: str | None = None
    last_modified: datetime | None = None


@dataclass(frozen=True)
class PresignedPost:
    url: str  # ends in "/", so url + key is the object's URL
    fields: dict[str, str]


class ObjectStore(Protocol):
    @property
    def bucket_url(self) -> str:
        """The bucket's base URL, ending in "/": base + key names an object."""

    def presign_post(self, key_prefix: str, max_bytes: int, expires_in: int) -> PresignedPost:
        """A SigV4 POST policy for one or more objects under key_prefix, 1..max_bytes each,
        private, answering 201; the key field is key_prefix + "${filename}"."""

    def head(self, key: str) -> ObjectInfo | None:
        """The object's size and ETag, or None when it does not exist."""

    def iter_chunks(self, key: str, *, if_match: str, chunk_size: int) -> Iterator[bytes]:
        """The object's bytes in order, chunk_size at a time, streamed (never all in memory),
        only if it still has ETag if_match (else PreconditionFailed). ObjectNotFound if
        missing."""

    def copy(
        self,
        source_key: str,
        dest_key: str,
        *,
        if_match: str,
        content_type: str,
        content_disposition: str,
    ) -> str:
        """Server-side copy, never through this process's memory, only if the source still
        has ETag if_match (else PreconditionFailed); sets the type and disposition. Returns
        the copy's ETag."""

    def delete(self, key: str) -> None:
        """Removes the object; deleting a missing object is not an error."""

    def presign_get(
        self, key: str, *, content_disposition: str, content_type: str, expires_in: int
    ) -> str:
        """A URL that downloads the object with these response headers until it expires."""

    def list_keys(self, prefix: str) -> list[ObjectInfo]:
        """Every object whose key starts with prefix (all pages)."""

    def iter_keys(self, prefix: str) -> Iterator[list[ObjectInfo]]:
        """The objects under prefix, a page (up to 1,000) at a time, with last_modified."""

    def delete_many(self, keys: list[str]) -> None:
        """Removes up to 1,000 objects in one request; missing ones are not an error."""

    def check(self) -> None:
        """Raises StorageError unless the bucket answers."""

    def ensure_bucket(self) -> None:
        """Creates the bucket if it does not exist."""

    def set_cors(self, origins: list[str]) -> None:
        """Lets browsers of these origins POST uploads to the bucket (and read the answer)."""
