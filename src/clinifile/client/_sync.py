"""The synchronous client."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any, TypeVar, cast

import httpx

from clinifile.client import _rules as rules
from clinifile.client.errors import (
    InvalidUpload,
    ProcessingTimeout,
    ServerError,
    UploadCancelled,
)

T = TypeVar("T")
DEFAULT_USER_AGENT = "clinifile-python (https://github.com/clinifile)"


class Client:
    """A client of the patient-attachments API of clinifile, or of Cliniko itself.

    With no base_url, the server comes from the key's shard suffix (Cliniko's rule).
    """

    def __init__(
        self,
        api_key: str,
        base_url: str | None = None,
        *,
        user_agent: str = DEFAULT_USER_AGENT,
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

    def _retrying(self, step: Callable[[], T]) -> T:
        for attempt in range(self.retry.attempts):
            try:
                return step()
            except Exception as error:
                if not rules.retryable(error) or attempt == self.retry.attempts - 1:
                    raise
                time.sleep(self.retry.delay(attempt, error))
        raise AssertionError("unreachable")

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        url = path if path.startswith("http") else self.base + path
        response = self._http.request(method, url, **kwargs)
        rules.raise_for(response)
        return response

    def _get(self, path: str, **kwargs: Any) -> Any:
        return self._retrying(lambda: self._request("GET", path, **kwargs)).json()

    # --- records -------------------------------------------------------------------------

    def patient(self, patient_id: int | str) -> dict[str, Any]:
        return self._get(f"/patients/{patient_id}")

    def attachment(self, attachment_id: int | str) -> dict[str, Any]:
        return self._get(f"/patient_attachments/{attachment_id}")

    def attachments(
        self,
        patient_id: int | str | None = None,
        *,
        sort: str | None = None,
        per_page: int = 100,
        filters: list[str] = (),  # type: ignore[assignment]
        **where: Any,
    ) -> Iterator[dict[str, Any]]:
        """Every attachment (of one patient), page by page, following links.next lazily.
        Keyword filters build `q[]`: `size=">=1000"`, `content_type="application/pdf"`."""
        path = (
            f"/patients/{patient_id}/patient_attachments" if patient_id else "/patient_attachments"
        )
        return self._paginate(path, "patient_attachments", where, sort, per_page, filters)

    def patients(
        self, *, sort: str | None = None, per_page: int = 100, **where: Any
    ) -> Iterator[dict[str, Any]]:
        return self._paginate("/patients", "patients", where, sort, per_page, ())

    def audit_events(
        self,
        *,
        sort: str | None = "id:desc",
        per_page: int = 100,
        filters: list[str] = (),  # type: ignore[assignment]
        **where: Any,
    ) -> Iterator[dict[str, Any]]:
        """The account's audit trail, newest first: `attachment_id=12`,
        `action="patient_attachment.download"`, `created_at=">=2026-11-01T00:00:00Z"`."""
        return self._paginate("/audit_events", "audit_events", where, sort, per_page, filters)

    def _paginate(
        self,
        path: str,
        key: str,
        where: Mapping[str, Any],
        sort: str | None,
        per_page: int,
        raw: Any,
    ) -> Iterator[dict[str, Any]]:
        params = rules.query_params(where, sort=sort, per_page=per_page, raw_filters=raw)
        body = self._get(path, params=params)
        while True:
            yield from body[key]
            next_url = body.get("links", {}).get("next")
            if not next_url:
                return
            body = self._get(next_url)

    def update_description(
        self, attachment_id: int | str, description: str | None
    ) -> dict[str, Any]:
        response = self._retrying(
            lambda: self._request(
                "PATCH", f"/patient_attachments/{attachment_id}", json={"description": description}
            )
        )
        return response.json()

    def archive(self, attachment_id: int | str) -> None:
        self._retrying(
            lambda: self._request("POST", f"/patient_attachments/{attachment_id}/archive")
        )

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
        cancel: threading.Event | None = None,
    ) -> dict[str, Any]:
        """Presign, POST the file to the object store (streamed), register it, and (with
        wait) return once processing completes. Raises QuotaExceeded, InvalidUpload,
        NotFound, RateLimited, AuthenticationFailed, ServerError or ProcessingTimeout;
        UploadCancelled when `cancel` is set before the upload is registered."""
        if isinstance(file, str | os.PathLike):
            path = Path(file)
            with open(path, "rb") as handle:
                return self.upload(
                    patient_id,
                    handle,
                    filename=filename or path.name,
                    description=description,
                    wait=wait,
                    wait_timeout=wait_timeout,
                    progress=progress,
                    cancel=cancel,
                )
        name = filename or Path(getattr(file, "name", "") or "upload").name
        start = file.tell()
        upload_url = self._post_to_store(
            patient_id, file, start, name, rules.cancellable(progress, cancel)
        )
        if cancel is not None and cancel.is_set():
            raise UploadCancelled(f"{name}: cancelled before it was registered")
        record = self._register(patient_id, upload_url, description)
        return self.wait(record["id"], wait_timeout) if wait else record

    def _post_to_store(
        self,
        patient_id: int | str,
        file: IO[bytes],
        start: int,
        name: str,
        progress: Callable[[int], None] | None,
    ) -> str:
        for _ in range(3):  # a fresh presigned post when the policy expired
            post = self._get(f"/patients/{patient_id}/attachment_presigned_post")

            def send(post: dict[str, Any] = post) -> httpx.Response:
                file.seek(start)
                reader = cast(IO[bytes], rules.ProgressReader(file, progress))
                response = self._storage.post(
                    post["url"], data=post["fields"], files={"file": (name, reader)}
                )
                if response.status_code >= 500:
                    raise ServerError(f"object store error {response.status_code}")
                return response

            outcome = rules.s3_outcome(self._retrying(send))
            if outcome == "ok":
                return rules.upload_url(post, name)
        raise InvalidUpload("the presigned post kept expiring; check the clocks", {})

    def _register(
        self, patient_id: int | str, upload_url: str, description: str | None
    ) -> dict[str, Any]:
        body = rules.register_body(patient_id, upload_url, description)
        since = rules.created_since_now()
        attempts = 0

        def create() -> httpx.Response:
            nonlocal attempts
            attempts += 1
            return self._request("POST", "/patient_attachments", json=body)

        try:
            return self._retrying(create).json()
        except InvalidUpload:
            if attempts == 1:
                raise
            # an earlier attempt reached the server: the upload is registered already
            return self._find_registered(patient_id, description, since)

    def _find_registered(
        self, patient_id: int | str, description: str | None, since: dict[str, Any]
    ) -> dict[str, Any]:
        for record in self.attachments(patient_id, sort="id:desc", **since):
            if record.get("description") == description:
                return record
        raise InvalidUpload("the upload was registered by an earlier attempt but is not found", {})

    def wait(self, attachment_id: int | str, timeout: float = 300.0) -> dict[str, Any]:
        """Polls with backoff until processing_completed; ProcessingTimeout after timeout."""
        deadline = time.monotonic() + timeout
        delay = 0.2
        while True:
            record = self.attachment(attachment_id)
            if record.get("processing_completed"):
                return record
            if time.monotonic() + delay > deadline:
                raise ProcessingTimeout(
                    f"attachment {attachment_id} is still processing after {timeout:.0f}s; "
                    "call wait() again later"
                )
            time.sleep(delay)
            delay = min(5.0, delay * 1.5)

    def download(
        self,
        attachment_id: int | str,
        dest: str | os.PathLike[str] | IO[bytes],
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Streams the file to dest (a path or a binary file); returns the bytes written."""
        response = self._retrying(
            lambda: self._request("GET", f"/patient_attachments/{attachment_id}/content")
        )
        url = response.headers["location"]
        if isinstance(dest, str | os.PathLike):
            with open(dest, "wb") as handle:
                return self._stream(url, handle, progress)
        return self._stream(url, dest, progress)

    def _stream(self, url: str, out: IO[bytes], progress: Callable[[int], None] | None) -> int:
        written = 0
        with self._storage.stream("GET", url) as response:
            rules.raise_for(response)
            for chunk in response.iter_bytes(256 * 1024):
                out.write(chunk)
                written += len(chunk)
                if progress:
                    progress(len(chunk))
        return written
