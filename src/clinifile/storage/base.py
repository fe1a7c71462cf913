"""The storage interface every backend implements, with its contracts.

All keys are full object keys inside the store's one bucket. Backends turn their vendor
errors into clinifile.errors: ObjectNotFound, PreconditionFailed, StorageUnavailable (the
store cannot be reached or answered 5xx), StorageError (any other refusal); anything else
they do not understand is re-raised as it is.

Every promise in these docstrings has one test in tests/storage/, run against each backend:
the embedded SeaweedFS, a SeaweedFS cluster, and any S3 endpoint an operator names (README).
Setting a bucket up (creating it, its CORS rules) is not part of the interface: it is the
S3 implementation's, done once at start-up.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int  # in bytes
    etag: str  # without quotes: give it back as if_match as it is
    content_type: str | None = None  # from head: the Content-Type the object is stored with
    last_modified: datetime | None = None  # from iter_keys: timezone-aware


@dataclass(frozen=True)
class PresignedPost:
    url: str  # ends in "/", so url + key is the object's URL
    fields: dict[str, str]


@dataclass(frozen=True)
class UploadedPart:
    number: int  # 1 to 10,000
    size: int  # in bytes
    etag: str  # without quotes


@dataclass(frozen=True)
class MultipartUploadInfo:
    key: str
    upload_id: str
    initiated: datetime | None  # timezone-aware


class ObjectStore(Protocol):
    @property
    def bucket_url(self) -> str:
        """The bucket's base URL, ending in "/": bucket_url + key is the object's URL, as
        the store's own URLs (presigned GETs) name it; presign_post's url is this URL."""

    def presign_post(self, key_prefix: str, max_bytes: int, expires_in: int) -> PresignedPost:
        """A SigV4 POST policy for any number of files under key_prefix, for expires_in
        seconds. The fields' key is key_prefix + "${filename}", which the store fills with
        the posted file's name; it stores the file privately and answers 201 naming the
        key. It refuses, storing nothing: a file over max_bytes (400 EntityTooLarge), an
        empty file (400), a key outside key_prefix, a changed acl or success_action_status,
        a changed policy or signature (403), and any POST after the expiry (403)."""

    def head(self, key: str) -> ObjectInfo | None:
        """The object's size, ETag and the Content-Type it is stored with; None when no
        object has that key, including a key this store cannot hold (SeaweedFS refuses
        keys with "..\\"), so a key a client made up is only ever absent."""

    def iter_chunks(self, key: str, *, if_match: str, chunk_size: int) -> Iterator[bytes]:
        """The object's bytes in order, in chunks of at most chunk_size bytes, streamed
        (never the whole object in memory), only while it still has ETag if_match.
        PreconditionFailed if it has another (it was replaced), ObjectNotFound if there is
        no object; both are raised by the first next(), not by the call."""

    def open(
        self, key: str, *, chunk_size: int
    ) -> tuple[ObjectInfo, Generator[bytes, None, None]] | None:
        """The object as it is now, from one GET: its size, ETag and Content-Type, and its
        bytes in order in chunks of at most chunk_size, streamed, all of that one version
        (a replacement during the read does not mix in). None when no object has that key
        (as head). Read the chunks to the end or close them to free the connection."""

    def copy(
        self,
        source_key: str,
        dest_key: str,
        *,
        if_match: str,
        content_type: str,
        content_disposition: str,
    ) -> str:
        """Copies source_key to dest_key inside the store (the bytes never pass through
        this process's memory), replacing whatever is at dest_key, only if the source
        still has ETag if_match: PreconditionFailed if it has another, ObjectNotFound if
        there is no source, and nothing is written. The copy is stored with content_type
        and content_disposition. Returns the copy's ETag: the one head gives, good as
        if_match."""

    def delete(self, key: str) -> None:
        """Removes the object; deleting a missing object is not an error."""

    def put(self, key: str, data: bytes, *, content_type: str) -> None:
        """Stores small bytes made by the server itself (previews) at key, privately,
        with content_type, replacing whatever is there."""

    def presign_get(
        self, key: str, *, content_disposition: str, content_type: str, expires_in: int
    ) -> str:
        """A URL whose plain GET answers the object's bytes with exactly these
        Content-Disposition and Content-Type headers, refused (403) once expires_in seconds
        have passed."""

    def iter_keys(self, prefix: str) -> Iterator[list[ObjectInfo]]:
        """Every object whose key starts with prefix, in pages of at most 1,000, each with
        its size, ETag and last_modified."""

    def delete_many(self, keys: Iterable[str]) -> None:
        """Removes every object named, any number of them, in requests of at most 1,000
        keys (S3's DeleteObjects limit); missing ones are not an error, no keys send
        nothing. StorageError naming the keys the store refused to delete, after every
        request was made."""

    def check(self) -> None:
        """Returns when the bucket exists and answers this store's credentials; otherwise
        StorageError: StorageUnavailable when the store cannot be reached (or answers
        5xx), a StorageError naming the bucket when it does not exist, a StorageError for
        credentials it refuses."""

    # Multipart uploads: a large object sent in parts (at most 10,000; each at least 5 MiB
    # but the last), straight from the client with presigned part URLs.

    def create_multipart(self, key: str, *, content_type: str | None) -> str:
        """Starts a multipart upload of key (stored privately, with content_type when
        given) and returns its upload id. Nothing is visible at key until it completes."""

    def presign_upload_part(self, key: str, upload_id: str, number: int, *, expires_in: int) -> str:
        """A URL whose plain PUT of bytes stores them as part number of the upload and
        answers its ETag header; sending a part again replaces it. Refused (403) once
        expires_in seconds have passed; refused (404 NoSuchUpload) once the upload was
        completed or aborted. The store cannot limit the part's size: check it in
        list_parts before completing."""

    def list_parts(self, key: str, upload_id: str) -> list[UploadedPart]:
        """The parts the store holds for the upload, by number, every page of them.
        ObjectNotFound when there is no such upload (never started, completed, aborted)."""

    def complete_multipart(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> str:
        """Joins the parts named (number, ETag), in ascending order, into the object at key
        and returns its ETag. StorageError when a part is missing or its ETag is not the
        store's (nothing is stored); ObjectNotFound when there is no such upload."""

    def abort_multipart(self, key: str, upload_id: str) -> None:
        """Drops the upload and every part of it; aborting one that is gone is not an
        error. Its part URLs are refused afterwards."""

    def iter_multipart_uploads(self, prefix: str) -> Iterator[list[MultipartUploadInfo]]:
        """Every multipart upload not completed or aborted whose key starts with prefix, in
        pages, each with its key, upload id and when it was started."""

    def copy_multipart(
        self,
        source_key: str,
        dest_key: str,
        *,
        if_match: str,
        size: int,
        part_size: int,
        content_type: str,
        content_disposition: str,
    ) -> str:
        """copy for objects over 5 GiB (one CopyObject's limit): the source's bytes copied
        part by part inside the store (UploadPartCopy), each part only while the source
        still has ETag if_match (PreconditionFailed otherwise, and nothing is written);
        size is the source's size. Returns the copy's ETag."""
