# Generated from _async.py by unasync (tests/client/generate_sync.py): do not edit.
# Edit _async.py, then run: .venv/bin/python -m tests.client.generate_sync
"""One client, written once: AsyncClient (_async.py) is the source, and Client (_sync.py) is
generated from it by unasync, which turns `async def` into `def`, drops `await` and `async`,
and renames the Async names (AsyncClient → Client, AsyncFile → SyncFile, aclose → close).
Edit _async.py only, then regenerate _sync.py:

    .venv/bin/python -m tests.client.generate_sync

(tests/client/test_one_source.py fails while _sync.py is stale.)
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import IO, Any, TypeVar

import httpx

from clinifile.client import _multipart as mp
from clinifile.client import _rules as rules
from clinifile.client import _uploads as uploads
from clinifile.client._io import (
    CHUNK,
    SyncFile,
    SyncPartReader,
    SyncStep,
    binary_file,
    sleep,
)
from clinifile.client._sync_parts import SyncMultipart
from clinifile.client.errors import InvalidUpload, ProcessingTimeout, ServerError, UploadCancelled

T = TypeVar("T")
Record = dict[str, Any]


class Client(SyncMultipart):
    """A client of the patient-attachments API of clinifile, or of Cliniko itself.

    With no base_url, the server comes from the key's shard suffix (Cliniko's rule).
    Client and AsyncClient have the same methods; AsyncClient's are awaited, and its lists
    are iterated with `async for`.
    """

    def __init__(
        self,
        api_key: str,
        base_url: str | None = None,
        *,
        user_agent: str = rules.DEFAULT_USER_AGENT,
        timeout: float = 60.0,
        retry: rules.RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        storage_transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base = rules.api_base(base_url, api_key)
        self.retry = retry or rules.RetryPolicy()
        self._http = httpx.Client(
            auth=(api_key, ""),
            headers={"User-Agent": user_agent, "Accept": "application/json"},
            timeout=timeout,
            transport=transport,
        )
        # the object store gets no API key
        self._storage = httpx.Client(
            timeout=httpx.Timeout(timeout, write=None), transport=storage_transport
        )

    def close(self) -> None:
        self._http.close()
        self._storage.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- plumbing ------------------------------------------------------------------------

    def _retrying(self, step: SyncStep[T]) -> T:
        for attempt in range(self.retry.attempts):
            try:
                return step()
            except httpx.TransportError as error:
                if not rules.retryable(error) or attempt == self.retry.attempts - 1:
                    raise rules.connection_failed(error) from error
                sleep(self.retry.delay(attempt, error))
            except Exception as error:
                if not rules.retryable(error) or attempt == self.retry.attempts - 1:
                    raise
                sleep(self.retry.delay(attempt, error))
        raise AssertionError("unreachable")

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        url = path if path.startswith("http") else self.base + path
        response = self._http.request(method, url, **kwargs)
        rules.raise_for(response)
        return response

    def _get(self, path: str, **kwargs: Any) -> Any:
        return (self._retrying(lambda: self._request("GET", path, **kwargs))).json()

    # --- records -------------------------------------------------------------------------

    def patient(self, patient_id: int | str) -> Record:
        return self._get(f"/patients/{patient_id}")

    def attachment(self, attachment_id: int | str) -> Record:
        return self._get(f"/patient_attachments/{attachment_id}")

    def attachments(
        self,
        patient_id: int | str | None = None,
        *,
        sort: str | None = None,
        per_page: int = 100,
        filters: Sequence[str] = (),
        **where: Any,
    ) -> Iterator[Record]:
        """Every attachment (of one patient), page by page, following links.next lazily.
        Keyword filters build `q[]`: `size=">=1000"`, `content_type="application/pdf"`;
        filters takes whole ones: `["size:>=1000"]`."""
        path = (
            f"/patients/{patient_id}/patient_attachments" if patient_id else "/patient_attachments"
        )
        params = rules.query_params(where, sort=sort, per_page=per_page, raw_filters=filters)
        return self._paginate(path, "patient_attachments", params)

    def patients(
        self,
        *,
        sort: str | None = None,
        per_page: int = 100,
        filters: Sequence[str] = (),
        **where: Any,
    ) -> Iterator[Record]:
        """Every patient, lazily: `last_name="Lovelace"`, `filters=["first_name:~Ad"]`."""
        params = rules.query_params(where, sort=sort, per_page=per_page, raw_filters=filters)
        return self._paginate("/patients", "patients", params)

    def audit_events(
        self,
        *,
        sort: str | None = "id:desc",
        per_page: int = 100,
        filters: Sequence[str] = (),
        **where: Any,
    ) -> Iterator[Record]:
        """The account's audit trail, newest first: `attachment_id=12`,
        `action="patient_attachment.download"`, `created_at=">=2026-11-01T00:00:00Z"`."""
        params = rules.query_params(where, sort=sort, per_page=per_page, raw_filters=filters)
        return self._paginate("/audit_events", "audit_events", params)

    def _paginate(self, path: str, key: str, params: list[tuple[str, str]]) -> Iterator[Record]:
        body = self._get(path, params=params)
        while True:
            yield from body[key]
            next_url = body.get("links", {}).get("next")
            if not next_url:
                return
            body = self._get(next_url)

    def update_description(self, attachment_id: int | str, description: str | None) -> Record:
        path = f"/patient_attachments/{attachment_id}"
        response = self._retrying(
            lambda: self._request("PATCH", path, json={"description": description})
        )
        return response.json()

    def archive(self, attachment_id: int | str) -> None:
        path = f"/patient_attachments/{attachment_id}/archive"
        self._retrying(lambda: self._request("POST", path))

    # --- the upload ----------------------------------------------------------------------

    def upload(
        self,
        patient_id: int | str,
        file: str | os.PathLike[str] | IO[bytes],
        *,
        filename: str | None = None,
        description: str | None = None,
        wait: bool = False,
        wait_timeout: float = 300.0,
        progress: Callable[[int], None] | None = None,
        cancel: uploads.Cancel | None = None,
        parallel_parts: int = mp.PARALLEL_PARTS,
        multipart_threshold: int = mp.MULTIPART_THRESHOLD,
        resume: bool = False,
    ) -> Record:
        """Presign, POST the file to the object store (streamed), register it, and (with
        wait) return once processing completes. A file larger than the presigned post lets
        the store take is refused before a byte is sent: QuotaExceeded over the storage the
        plan has left, ValidationFailed over the file size limit or for an empty file. Also
        raises InvalidUpload, NotFound, RateLimited, AuthenticationFailed, ServerError
        (ConnectionFailed when the server cannot be reached); with wait, Quarantined (the
        file was blocked: infected, or a type the server does not accept), ProcessingFailed
        or ProcessingTimeout; UploadCancelled when `cancel` is set before the upload is
        registered. A file over multipart_threshold goes as a multipart upload (clinifile's
        extension), parallel_parts at once; with resume, a path's interrupted upload goes on
        from the parts the store holds (_multipart.py)."""
        with binary_file(file, "rb") as source:
            name = filename or uploads.name_of(source)
            start = source.tell()
            size = source.seek(0, os.SEEK_END) - start
            uploads.check_not_empty(name, size)
            report = uploads.cancellable(progress, cancel)
            if size > multipart_threshold:
                state = mp.state_path(self.base, patient_id, file) if mp.is_path(file) else None
                reader = SyncPartReader(source, start)
                send = partial(self._send_in_parts, patient_id, reader, size, name, report)
                upload_url = send(state, resume, parallel_parts)
            else:
                upload_url = self._post_to_store(patient_id, source, start, size, name, report)
        if cancel is not None and cancel.is_set():
            raise UploadCancelled(f"{name}: cancelled before it was registered")
        record = self._register(patient_id, upload_url, description)
        if size > multipart_threshold and mp.is_path(file):
            mp.forget(mp.state_path(self.base, patient_id, file))
        return self.wait(record["id"], wait_timeout) if wait else record

    def _post_to_store(
        self,
        patient_id: int | str,
        file: IO[bytes],
        start: int,
        size: int,
        name: str,
        progress: Callable[[int], None],
    ) -> str:
        for _ in range(3):  # a fresh presigned post when the policy expired
            post = self._get(f"/patients/{patient_id}/attachment_presigned_post")
            limits = uploads.UploadLimits.of(post)
            limits.check(name, size)
            form = uploads.Form(post["fields"], name, size)
            send = partial(self._send_form, post["url"], form, file, start, progress)
            if uploads.s3_outcome(self._retrying(send), limits, name, size) == "ok":
                return uploads.upload_url(post, name)
        raise InvalidUpload("the presigned post kept expiring; check the clocks", {})

    def _send_form(
        self,
        url: str,
        form: uploads.Form,
        file: IO[bytes],
        start: int,
        progress: Callable[[int], None],
    ) -> httpx.Response:
        file.seek(start)
        body = _form_body(form, SyncFile(file, form.size), progress)
        response = self._storage.post(url, content=body, headers=form.headers)
        if response.status_code >= 500:
            raise ServerError(f"object store error {response.status_code}")
        return response

    def _register(self, patient_id: int | str, upload_url: str, description: str | None) -> Record:
        body = uploads.register_body(patient_id, upload_url, description)
        since = uploads.created_since_now()
        attempts = 0

        def create() -> httpx.Response:
            nonlocal attempts
            attempts += 1
            return self._request("POST", "/patient_attachments", json=body)

        try:
            return (self._retrying(create)).json()
        except InvalidUpload:
            if attempts == 1:
                raise
            # an earlier attempt reached the server: the upload is registered already
            return self._find_registered(patient_id, description, since)

    def _find_registered(
        self, patient_id: int | str, description: str | None, since: dict[str, Any]
    ) -> Record:
        for record in self.attachments(patient_id, sort="id:desc", **since):
            if record.get("description") == description:
                return record
        raise InvalidUpload("the upload was registered by an earlier attempt but is not found", {})

    def wait(self, attachment_id: int | str, timeout: float = 300.0) -> Record:
        """Polls with backoff until processing_completed; Quarantined (infected or a blocked
        type) or ProcessingFailed as soon as the server says it never will be;
        ProcessingTimeout after timeout."""
        deadline = time.monotonic() + timeout
        delay = 0.2
        while True:
            record = self.attachment(attachment_id)
            if record.get("processing_completed"):
                return record
            rules.raise_if_never_processed(record)
            if time.monotonic() + delay > deadline:
                raise ProcessingTimeout(
                    f"attachment {attachment_id} is still processing after {timeout:.0f}s; "
                    "call wait() again later"
                )
            sleep(delay)
            delay = min(5.0, delay * 1.5)

    # --- the download --------------------------------------------------------------------

    def download(
        self,
        attachment_id: int | str,
        dest: str | os.PathLike[str] | IO[bytes],
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Streams the file to dest (a path or a binary file); returns the bytes written."""
        path = f"/patient_attachments/{attachment_id}/content"
        response = self._retrying(lambda: self._request("GET", path))
        with binary_file(dest, "wb") as out:
            return self._stream(response.headers["location"], SyncFile(out), progress)

    def _stream(self, url: str, out: SyncFile, progress: Callable[[int], None] | None) -> int:
        written = 0
        try:
            with self._storage.stream("GET", url) as response:
                rules.raise_for(response)
                for chunk in response.iter_bytes(CHUNK):
                    out.write(chunk)
                    written += len(chunk)
                    if progress:
                        progress(len(chunk))
        except httpx.TransportError as error:
            raise rules.connection_failed(error) from error
        return written


def _form_body(
    form: uploads.Form, file: SyncFile, progress: Callable[[int], None]
) -> Iterator[bytes]:
    yield form.head
    for chunk in file:
        progress(len(chunk))
        yield chunk
    yield form.tail
