"""The asynchronous twin of Client: the same rules (`_rules`), awaited."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import IO, Any, TypeVar

import httpx

from clinifile.client import _rules as rules
from clinifile.client._sync import DEFAULT_USER_AGENT
from clinifile.client.errors import InvalidUpload, ProcessingTimeout, ServerError

T = TypeVar("T")


class _AsyncFile:
    """Reads a blocking file in a thread, chunk by chunk, for httpx's async multipart."""

    def __init__(self, reader: rules.ProgressReader) -> None:
        self._reader = reader

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while chunk := await asyncio.to_thread(self._reader.read, 256 * 1024):
            yield chunk


class AsyncClient:
    """See Client; every method is a coroutine and `attachments()` an async iterator."""

    def __init__(
        self,
        api_key: str,
        base_url: str | None = None,
        *,
        user_agent: str = DEFAULT_USER_AGENT,
        timeout: float = 60.0,
        retry: rules.RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        storage_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base = rules.api_base(base_url, api_key)
        self.retry = retry or rules.RetryPolicy()
        self._http = httpx.AsyncClient(
            auth=(api_key, ""),
            headers={"User-Agent": user_agent, "Accept": "application/json"},
            timeout=timeout,
            transport=transport,
        )
        self._storage = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, write=None), transport=storage_transport
        )

    async def aclose(self) -> None:
        await self._http.aclose()
        await self._storage.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def _retrying(self, step: Callable[[], Awaitable[T]]) -> T:
        for attempt in range(self.retry.attempts):
            try:
                return await step()
            except Exception as error:
                if not rules.retryable(error) or attempt == self.retry.attempts - 1:
                    raise
                await asyncio.sleep(self.retry.delay(attempt, error))
        raise AssertionError("unreachable")

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        url = path if path.startswith("http") else self.base + path
        response = await self._http.request(method, url, **kwargs)
        rules.raise_for(response)
        return response

    async def _get(self, path: str, **kwargs: Any) -> Any:
        return (await self._retrying(lambda: self._request("GET", path, **kwargs))).json()

    async def attachment(self, attachment_id: int | str) -> dict[str, Any]:
        return await self._get(f"/patient_attachments/{attachment_id}")

    async def attachments(
        self,
        patient_id: int | str | None = None,
        *,
        sort: str | None = None,
        per_page: int = 100,
        **where: Any,
    ) -> AsyncIterator[dict[str, Any]]:
        path = (
            f"/patients/{patient_id}/patient_attachments" if patient_id else "/patient_attachments"
        )
        async for record in self._paginate(path, "patient_attachments", where, sort, per_page):
            yield record

    async def audit_events(
        self, *, sort: str | None = "id:desc", per_page: int = 100, **where: Any
    ) -> AsyncIterator[dict[str, Any]]:
        """The account's audit trail, newest first; keyword filters as for attachments."""
        async for record in self._paginate("/audit_events", "audit_events", where, sort, per_page):
            yield record

    async def _paginate(
        self, path: str, key: str, where: dict[str, Any], sort: str | None, per_page: int
    ) -> AsyncIterator[dict[str, Any]]:
        body = await self._get(path, params=rules.query_params(where, sort=sort, per_page=per_page))
        while True:
            for record in body[key]:
                yield record
            next_url = body.get("links", {}).get("next")
            if not next_url:
                return
            body = await self._get(next_url)

    async def upload(
        self,
        patient_id: int | str,
        file: str | os.PathLike[str] | IO[bytes],
        *,
        filename: str | None = None,
        description: str | None = None,
        wait: bool = False,
        wait_timeout: float = 300.0,
        progress: Callable[[int], None] | None = None,
    ) -> dict[str, Any]:
        if isinstance(file, str | os.PathLike):
            path = Path(file)
            with open(path, "rb") as handle:
                return await self.upload(
                    patient_id,
                    handle,
                    filename=filename or path.name,
                    description=description,
                    wait=wait,
                    wait_timeout=wait_timeout,
                    progress=progress,
                )
        name = filename or Path(getattr(file, "name", "") or "upload").name
        start = file.tell()
        size = file.seek(0, os.SEEK_END) - start  # S3 needs a Content-Length, not chunks
        upload_url = await self._post_to_store(patient_id, file, start, size, name, progress)
        record = await self._register(patient_id, upload_url, description)
        return await self.wait(record["id"], wait_timeout) if wait else record

    async def _post_to_store(
        self,
        patient_id: int | str,
        file: IO[bytes],
        start: int,
        size: int,
        name: str,
        progress: Callable[[int], None] | None,
    ) -> str:
        for _ in range(3):
            post = await self._get(f"/patients/{patient_id}/attachment_presigned_post")

            async def send(post: dict[str, Any] = post) -> httpx.Response:
                file.seek(start)
                body, headers = _multipart(post["fields"], name, file, size, progress)
                response = await self._storage.post(post["url"], content=body, headers=headers)
                if response.status_code >= 500:
                    raise ServerError(f"object store error {response.status_code}")
                return response

            outcome = rules.s3_outcome(await self._retrying(send))
            if outcome == "ok":
                return rules.upload_url(post, name)
        raise InvalidUpload("the presigned post kept expiring; check the clocks", {})

    async def _register(
        self, patient_id: int | str, upload_url: str, description: str | None
    ) -> dict[str, Any]:
        body = rules.register_body(patient_id, upload_url, description)
        since = rules.created_since_now()
        attempts = 0

        async def create() -> httpx.Response:
            nonlocal attempts
            attempts += 1
            return await self._request("POST", "/patient_attachments", json=body)

        try:
            return (await self._retrying(create)).json()
        except InvalidUpload:
            if attempts == 1:
                raise
            # an earlier attempt reached the server: the upload is registered already
            async for record in self.attachments(patient_id, sort="id:desc", **since):
                if record.get("description") == description:
                    return record
            raise

    async def wait(self, attachment_id: int | str, timeout: float = 300.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        delay = 0.2
        while True:
            record = await self.attachment(attachment_id)
            if record.get("processing_completed"):
                return record
            if time.monotonic() + delay > deadline:
                raise ProcessingTimeout(
                    f"attachment {attachment_id} is still processing after {timeout:.0f}s; "
                    "call wait() again later"
                )
            await asyncio.sleep(delay)
            delay = min(5.0, delay * 1.5)

    async def download(self, attachment_id: int | str, dest: str | os.PathLike[str]) -> int:
        response = await self._retrying(
            lambda: self._request("GET", f"/patient_attachments/{attachment_id}/content")
        )
        written = 0
        with open(dest, "wb") as out:
            async with self._storage.stream("GET", response.headers["location"]) as download:
                rules.raise_for(download)
                async for chunk in download.aiter_bytes(256 * 1024):
                    await asyncio.to_thread(out.write, chunk)
                    written += len(chunk)
        return written


def _multipart(
    fields: dict[str, str],
    name: str,
    file: IO[bytes],
    size: int,
    progress: Callable[[int], None] | None,
) -> tuple[AsyncIterator[bytes], dict[str, str]]:
    """A streamed multipart/form-data body: every field, then the file last."""
    boundary = os.urandom(16).hex()
    head = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    )
    quoted = name.replace("\\", "\\\\").replace('"', "%22").replace("\r", "").replace("\n", "")
    head += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{quoted}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()

    tail = f"\r\n--{boundary}--\r\n".encode()

    async def body() -> AsyncIterator[bytes]:
        yield head
        async for chunk in _AsyncFile(rules.ProgressReader(file, progress)):
            yield chunk
        yield tail

    headers = {
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Content-Length": str(len(head) + size + len(tail)),
    }
    return body(), headers
