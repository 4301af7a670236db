"""Connection limits aiohttp does not have: a deadline for request headers, and a byte budget.

After the TLS handshake aiohttp waits for a request's headers for as long as the client likes, so a
client trickling one byte at a time (or sending nothing) holds a connection and its buffers for
ever. `GuardedSite` serves like `web.TCPSite` but wraps each connection's protocol in
`GuardedConnection`, which closes the connection when a request's headers have not all arrived
`header_timeout` seconds after its first byte (or after the connection opened). The admission
handler finds its connection's guard by transport in the `connections` map the site fills, and
tells it when a request's headers are in (`busy()`) and when the answer is out (`idle()`).

HTTP pipelining (a client sending its next request before the answer to the previous one) is not
tracked: bytes arriving while a request is being answered start no deadline. The API server does
not pipeline.

`BytesBudget` bounds the request bodies received and judged at once, by their declared size.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import ssl
import time
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)


class GuardedConnection(asyncio.Protocol):
    """Delegates everything to aiohttp's protocol; notes when a request's headers started coming.

    The site's sweeper closes the connection once that is `header_timeout` ago. A timestamp per
    request instead of a timer per request: arming and cancelling a timer for every request cost
    more than the rest of the guard together.
    """

    def __init__(self, inner: asyncio.Protocol, registry: dict[Any, GuardedConnection]) -> None:
        self._inner = inner
        self._registry = registry
        self.transport: asyncio.BaseTransport | None = None
        self.waiting_since: float | None = None
        """When the bytes of a request not yet handed to the handler started (monotonic clock)."""
        self._busy = False

    # --- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self._registry[transport] = self
        self.waiting_since = time.monotonic()  # a connection that never sends a byte is held too
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if not self._busy and self.waiting_since is None:
            self.waiting_since = time.monotonic()
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._registry.pop(self.transport, None)
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    # --- the handler's side --------------------------------------------------------------------

    def busy(self) -> None:
        """A request's headers are in: no deadline until it is answered (the body has its own)."""
        self._busy = True
        self.waiting_since = None

    def idle(self) -> None:
        """The answer is out; the next request's first byte starts a new deadline."""
        self._busy = False


def close_stalled(connections: dict[Any, GuardedConnection], timeout: float, now: float) -> int:
    """Close every connection whose request headers started arriving `timeout` or more ago."""
    stalled = [
        c for c in connections.values() if c.waiting_since is not None and now - c.waiting_since >= timeout
    ]
    for connection in stalled:
        connection.waiting_since = None
        transport = connection.transport
        if transport is not None and not transport.is_closing():
            log.info(
                "closed a connection: no complete request headers within the header timeout",
                extra={"peer": str(transport.get_extra_info("peername")), "header_timeout": timeout},
            )
            transport.close()
    return len(stalled)


class GuardedSite(web.TCPSite):
    """`web.TCPSite` with a header deadline per connection and a TLS handshake timeout."""

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        *,
        ssl_context: ssl.SSLContext | None,
        header_timeout: float,
        connections: dict[Any, GuardedConnection],
    ) -> None:
        super().__init__(runner, host, port, ssl_context=ssl_context)
        self._header_timeout = header_timeout
        self.connections = connections
        self._sweeper: asyncio.Task[None] | None = None

    async def _sweep(self) -> None:
        # A quarter of the timeout between sweeps: a stalled connection goes within 1.25 times it.
        while True:
            await asyncio.sleep(self._header_timeout / 4)
            close_stalled(self.connections, self._header_timeout, time.monotonic())

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        await super().stop()

    async def start(self) -> None:
        # What TCPSite.start does, with the protocol factory wrapped. BaseSite.start registers
        # the site with its runner (so `runner.addresses` and cleanup see it).
        await web.BaseSite.start(self)
        server = self._runner.server
        assert server is not None
        registry = self.connections
        loop = asyncio.get_running_loop()
        self._sweeper = asyncio.create_task(self._sweep())
        self._server = await loop.create_server(
            lambda: GuardedConnection(server(), registry),
            self._host,
            self._port,
            ssl=self._ssl_context,
            ssl_handshake_timeout=self._header_timeout if self._ssl_context is not None else None,
            backlog=self._backlog,
            reuse_address=self._reuse_address,
            reuse_port=self._reuse_port,
        )


class BytesBudget:
    """At most `limit` bytes of request bodies at once; later requests wait their turn (FIFO).

    A request asking for more than the whole budget waits until it has the budget to itself.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_use = 0
        self._waiters: collections.deque[tuple[int, asyncio.Future[None]]] = collections.deque()

    @property
    def waiting(self) -> int:
        """Requests waiting for their share."""
        return len(self._waiters)

    def try_acquire(self, size: int) -> int | None:
        """`size` bytes (capped at the limit) if they are free and nobody waits, else None.

        The usual case, without the coroutine `acquire` costs; returns what to `release`.
        """
        size = min(max(size, 0), self.limit)
        if not self._waiters and self.in_use + size <= self.limit:
            self.in_use += size
            return size
        return None

    async def acquire(self, size: int) -> int:
        """Wait until `size` bytes (capped at the limit) are free; returns what to `release`."""
        granted = self.try_acquire(size)
        if granted is not None:
            return granted
        size = min(max(size, 0), self.limit)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (size, future)
        self._waiters.append(entry)
        try:
            await future
        except BaseException:
            if entry in self._waiters:
                self._waiters.remove(entry)
            elif future.done() and not future.cancelled():
                self.release(size)  # granted just as the waiter gave up
            raise
        return size

    def release(self, size: int) -> None:
        self.in_use -= size
        while self._waiters and self.in_use + self._waiters[0][0] <= self.limit:
            wanted, future = self._waiters.popleft()
            if not future.done():
                self.in_use += wanted
                future.set_result(None)
