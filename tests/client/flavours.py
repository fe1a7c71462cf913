"""Both clients behind one test: every client test takes `make_client`, which builds a
Client, or an AsyncClient driven through `BlockingAsyncClient`, so that one test body with
one set of assertions checks both.

BlockingAsyncClient runs the real AsyncClient on an event loop in another thread (anyio's
blocking portal): its coroutines are awaited there and its async iterators iterated there;
only the test's side of each call blocks.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack
from typing import Any

import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal

from clinifile.client import AsyncClient, Client


class BlockingAsyncClient:
    """An AsyncClient called as a Client is: `with`, plain calls, plain iteration."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._client = AsyncClient(*args, **kwargs)
        self._stack = ExitStack()
        self._portal: BlockingPortal | None = None

    def __enter__(self) -> BlockingAsyncClient:
        self._portal = self._stack.enter_context(start_blocking_portal())
        return self

    def __exit__(self, *_: object) -> None:
        try:
            self._call(self._client.aclose)
        finally:
            self._stack.close()

    def _call(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        assert self._portal is not None, "use the client in a with block"
        return self._portal.call(lambda: function(*args, **kwargs))

    def _iterate(self, records: AsyncIterator[Any]) -> Iterator[Any]:
        while True:
            try:
                yield self._call(records.__anext__)
            except StopAsyncIteration:
                return

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute
        if inspect.iscoroutinefunction(attribute):
            return lambda *args, **kwargs: self._call(attribute, *args, **kwargs)

        def call(*args: Any, **kwargs: Any) -> Any:
            result = attribute(*args, **kwargs)
            return self._iterate(result) if isinstance(result, AsyncIterator) else result

        return call


FLAVOURS: dict[str, Callable[..., Any]] = {"sync": Client, "async": BlockingAsyncClient}


class Intercept(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """A real transport for either client with a test's hooks around each request:
    `before(request)` may answer instead of the server (return a Response) or delay;
    `after(request, response)` sees the server's whole answer and may raise instead."""

    def __init__(
        self,
        before: Callable[[httpx.Request], httpx.Response | None] = lambda request: None,
        after: Callable[[httpx.Request, httpx.Response], None] | None = None,
    ) -> None:
        self._before = before
        self._after = after
        self._sync = httpx.HTTPTransport()
        self._async = httpx.AsyncHTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if (answer := self._before(request)) is not None:
            return answer
        response = self._sync.handle_request(request)
        if self._after is not None:
            response.read()
            self._after(request, response)
        return response

    def close(self) -> None:
        self._sync.close()

    async def aclose(self) -> None:
        await self._async.aclose()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if (answer := self._before(request)) is not None:
            return answer
        response = await self._async.handle_async_request(request)
        if self._after is not None:
            await response.aread()
            self._after(request, response)
        return response
