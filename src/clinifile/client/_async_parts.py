"""The multipart upload of AsyncClient (_async.py), as a mixin: like _async.py, this is
the source and _sync_parts.py is generated from it by unasync
(.venv/bin/python -m tests.client.generate_sync). The details both share are in
_multipart.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from clinifile.client import _multipart as mp
from clinifile.client import _uploads as uploads
from clinifile.client._io import AsyncParallel, AsyncPartReader, AsyncStep
from clinifile.client.errors import ClinifileError

T = TypeVar("T")
Record = dict[str, Any]


class AsyncMultipart:
    """Sends a file as a multipart upload: parts in parallel, each retried alone."""

    if TYPE_CHECKING:  # AsyncClient's own
        _storage: httpx.AsyncClient

        async def _retrying(self, step: AsyncStep[T]) -> T: ...

        async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response: ...

        async def _get(self, path: str, **kwargs: Any) -> Any: ...

    async def _send_in_parts(
        self,
        patient_id: int | str,
        reader: AsyncPartReader,
        size: int,
        name: str,
        report: Callable[[int], None],
        state: Path | None,
        resume: bool,
        parallel: int,
    ) -> str:
        upload = mp.load(state) if resume else None
        if upload is not None and upload.get("upload_url"):
            return str(upload["upload_url"])  # completed, not yet registered
        held = await self._held_parts(upload) if upload is not None else None
        if upload is None or held is None:
            # the storage left, as a presigned post tells it: refused in the POST's words
            post = await self._get(f"/patients/{patient_id}/attachment_presigned_post")
            uploads.UploadLimits.of(post).check_storage(name, size)
            body = {"filename": name, "size": size}
            path = f"/patients/{patient_id}/attachment_multipart_uploads"
            opened = await self._retrying(lambda: self._request("POST", path, json=body))
            upload, held = opened.json(), {}
            mp.save(state, upload)
        report(sum(mp.part_range(upload, n)[1] for n in held))
        signed: dict[int, str] = {}
        todo = [n for n in range(1, int(upload["parts"]) + 1) if n not in held]
        send = partial(self._send_part, upload, reader, report, signed)
        held.update(await AsyncParallel(parallel).run([partial(send, n) for n in todo]))
        parts = [{"number": n, "etag": etag} for n, etag in sorted(held.items())]
        path = f"/attachment_multipart_uploads/{upload['id']}/complete"
        done = await self._retrying(lambda: self._request("POST", path, json={"parts": parts}))
        mp.save(state, {**upload, "upload_url": done.json()["upload_url"]})
        return str(done.json()["upload_url"])

    async def _held_parts(self, upload: Record) -> dict[int, str] | None:
        """The parts of a remembered upload the store holds; None when it cannot go on."""
        try:
            status = await self._get(f"/attachment_multipart_uploads/{upload['id']}")
        except ClinifileError as error:
            if mp.ended(error):
                return None
            raise
        return mp.held_parts(upload, status)

    async def _send_part(
        self,
        upload: Record,
        reader: AsyncPartReader,
        report: Callable[[int], None],
        signed: dict[int, str],
        number: int,
    ) -> tuple[int, str]:
        """One part, PUT to the store; a failed one is sent again alone (its progress taken
        back), an expired URL signed again."""
        offset, length = mp.part_range(upload, number)

        async def attempt() -> tuple[int, str]:
            if number not in signed:
                numbers = mp.to_sign(upload, number, signed)
                path = f"/attachment_multipart_uploads/{upload['id']}/part_urls"
                answer = await self._request("POST", path, json={"numbers": numbers})
                signed.update({int(n): url for n, url in answer.json()["urls"].items()})
            data = await reader.read(offset, length)
            sent = 0

            def counted(count: int) -> None:
                nonlocal sent
                report(count)
                sent += count

            try:
                response = await self._storage.put(
                    signed[number],
                    content=_part_body(data, counted),
                    headers={"Content-Length": str(length)},
                )
                return number, mp.part_etag(response, number)
            except Exception:
                report(-sent)
                signed.pop(number, None)
                raise

        return await self._retrying(attempt)


async def _part_body(data: bytes, progress: Callable[[int], None]) -> AsyncIterator[bytes]:
    for piece in mp.pieces(data):
        progress(len(piece))
        yield piece
