"""The few operations whose async form is more than the sync one with `await`: sleeping,
and reading or writing a blocking file (the async client does that in a worker thread, so
a slow disk does not hold the event loop).

_async.py uses the Async names; unasync renames them in the generated _sync.py
(AsyncFile → SyncFile, AsyncStep → SyncStep, async_sleep → sleep).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
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
