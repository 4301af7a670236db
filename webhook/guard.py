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
import logging
import ssl
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)


class GuardedConnection(asyncio.Protocol):
    """Delegates everything to aiohttp's protocol; closes the transport when headers stall."""

    def __init__(
        self, inner: asyncio.Protocol, header_timeout: float, registry: dict[Any, GuardedConnection]
    ):
        self._inner = inner
        self._timeout = header_timeout
        self._registry = registry
        self._transport: asyncio.BaseTransport | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._busy = False

    # --- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        self._registry[transport] = self
        self._start_deadline()  # a connection that never sends a byte is held to the same deadline
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if not self._busy and self._deadline is None:
            self._start_deadline()
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        self._registry.pop(self._transport, None)
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    # --- the handler's side --------------------------------------------------------------------

    def busy(self) -> None:
        """A request's headers are in: no deadline until it is answered (the body has its own)."""
        self._busy = True
        self._cancel_deadline()

    def idle(self) -> None:
        """The answer is out; the next request's first byte starts a new deadline."""
        self._busy = False

    # --- internals -----------------------------------------------------------------------------

    def _start_deadline(self) -> None:
        self._deadline = asyncio.get_running_loop().call_later(self._timeout, self._expire)

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if self._transport is not None and not self._transport.is_closing():
            peer = self._transport.get_extra_info("peername")
            log.info(
                "closed a connection: no complete request headers within the header timeout",
                extra={"peer": str(peer), "header_timeout": self._timeout},
            )
            self._transport.close()


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

    async def start(self) -> None:
        # What TCPSite.start does, with the protocol factory wrapped. BaseSite.start registers
        # the site with its runner (so `runner.addresses` and cleanup see it).
        await web.BaseSite.start(self)
        server = self._runner.server
        assert server is not None
        timeout, registry = self._header_timeout, self.connections
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: GuardedConnection(server(), timeout, registry),
            self._host,
            self._port,
            ssl=self._ssl_context,
            ssl_handshake_timeout=timeout if self._ssl_context is not None else None,
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

    async def acquire(self, size: int) -> int:
        """Wait until `size` bytes (capped at the limit) are free; returns what to `release`."""
        size = min(max(size, 0), self.limit)
        if not self._waiters and self.in_use + size <= self.limit:
            self.in_use += size
            return size
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
