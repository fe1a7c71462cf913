"""The few operations whose async form is more than the sync one with `await`: sleeping,
and reading or writing a blocking file (the async client does that in a worker thread, so
a slow disk does not hold the event loop).

_async.py uses the Async names; unasync renames them in the generated _sync.py
(AsyncFile → SyncFile, AsyncStep → SyncStep, async_sleep → sleep).
"""

from __future__ import annotations

import asyncio
import io
import os
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import IO, TypeVar

T = TypeVar("T")
CHUNK = 256 * 1024

AsyncStep = Callable[[], Awaitable[T]]
SyncStep = Callable[[], T]


async def async_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


def sleep(seconds: float) -> None:
    time.sleep(seconds)


class _BlockingFile:
    def __init__(self, raw: IO[bytes], size: int | None = None) -> None:
        self.raw = raw
        self.left = size  # bytes still to read; None: to the end

    def _read(self) -> bytes:
        chunk = self.raw.read(CHUNK if self.left is None else min(CHUNK, self.left))
        if self.left is not None:
            self.left -= len(chunk)
        return chunk


class AsyncFile(_BlockingFile):
    """A blocking binary file, read (at most `size` bytes) and written in a worker thread."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while chunk := await asyncio.to_thread(self._read):
            yield chunk

    async def write(self, chunk: bytes) -> None:
        await asyncio.to_thread(self.raw.write, chunk)


class SyncFile(_BlockingFile):
    """AsyncFile of the sync client: the same reads and writes, in the calling thread."""

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self._read():
            yield chunk

    def write(self, chunk: bytes) -> None:
        self.raw.write(chunk)


@contextmanager
def binary_file(file: str | os.PathLike[str] | IO[bytes], mode: str) -> Iterator[IO[bytes]]:
    """The file itself, or the path opened in mode ("rb", "wb") and closed afterwards."""
    if isinstance(file, str | os.PathLike):
        with open(file, mode) as handle:
            yield handle
    else:
        yield file


class _PartSource:
    """Reads any part of a file, from several parts at once: os.pread where the file has a
    descriptor (no shared position), else seek and read under a lock."""

    def __init__(self, raw: IO[bytes], start: int) -> None:
        self.raw = raw
        self.start = start
        self.lock = threading.Lock()

    def _read_at(self, offset: int, size: int) -> bytes:
        try:
            fd = self.raw.fileno()
        except (AttributeError, OSError, io.UnsupportedOperation):
            fd = -1
        if fd >= 0 and hasattr(os, "pread"):
            chunks = []
            while size > 0 and (chunk := os.pread(fd, size, self.start + offset)):
                chunks.append(chunk)
                offset, size = offset + len(chunk), size - len(chunk)
            return b"".join(chunks)
        with self.lock:
            self.raw.seek(self.start + offset)
            return self.raw.read(size)


class AsyncPartReader(_PartSource):
    async def read(self, offset: int, size: int) -> bytes:
        return await asyncio.to_thread(self._read_at, offset, size)


class SyncPartReader(_PartSource):
    def read(self, offset: int, size: int) -> bytes:
        return self._read_at(offset, size)


class AsyncParallel:
    """Runs steps at most `limit` at once; the first failure cancels the rest and is
    raised."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)

    async def run(self, steps: Sequence[AsyncStep[T]]) -> list[T]:
        gate = asyncio.Semaphore(self.limit)

        async def one(step: AsyncStep[T]) -> T:
            async with gate:
                return await step()

        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(one(step)) for step in steps]
        except BaseExceptionGroup as failed:  # the first failure, as the sync twin raises it
            raise failed.exceptions[0] from None
        return [task.result() for task in tasks]


class SyncParallel:
    """AsyncParallel of the sync client: the steps in threads."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)

    def run(self, steps: Sequence[SyncStep[T]]) -> list[T]:
        pool = ThreadPoolExecutor(self.limit)
        try:
            futures = [pool.submit(step) for step in steps]
            return [future.result() for future in futures]
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
