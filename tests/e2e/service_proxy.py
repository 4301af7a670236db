"""A stand-in for a Kubernetes Service: one TCP port in front of several webhook replicas.

The local API server maps a Service to one address; this proxy is that address and forwards each
connection (TLS passes through untouched) to the next backend in turn, skipping backends that
refuse the connection, as kube-proxy stops routing to endpoints that are no longer ready. With
no backend reachable the connection is dropped, which the API server reports as a failed call.

It runs its own event loop in a thread, so synchronous tests and subprocesses can use it while
the test's own loop stays idle.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import Counter
from collections.abc import Sequence

CONNECT_TIMEOUT = 2.0
CHUNK = 64 * 1024


class ServiceProxy:
    """Round-robin TCP forwarding to `backends` ("host:port"), changeable while it runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._backends: list[tuple[str, int]] = []
        self._turn = 0
        self.connections: Counter[str] = Counter()
        """Connections forwarded so far, by backend address."""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="service-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> ServiceProxy:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._listen(), self._loop)
        self.port = future.result(CONNECT_TIMEOUT)
        return self

    def set_backends(self, addresses: Sequence[str]) -> None:
        parsed = []
        for address in addresses:
            host, _, port = address.rpartition(":")
            parsed.append((host, int(port)))
        with self._lock:
            self._backends = parsed

    def stop(self) -> None:
        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(CONNECT_TIMEOUT * 2)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(CONNECT_TIMEOUT * 2)
        self._loop.close()

    # ----- on the proxy's loop ---------------------------------------------------------------------

    async def _listen(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    def _candidates(self) -> list[tuple[str, int]]:
        with self._lock:
            backends = list(self._backends)
            start = self._turn
            self._turn += 1
        if not backends:
            return []
        start %= len(backends)
        return backends[start:] + backends[:start]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            await self._forward(reader, writer)
        finally:
            self._handlers.discard(task)
            writer.close()

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for host, port in self._candidates():
            try:
                async with asyncio.timeout(CONNECT_TIMEOUT):
                    up_reader, up_writer = await asyncio.open_connection(host, port)
            except (OSError, TimeoutError):
                continue  # not ready: try the next endpoint
            self.connections[f"{host}:{port}"] += 1
            try:
                await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
            finally:
                up_writer.close()
            return


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    """Copy until either side ends; then close the sink, so the other direction ends too."""
    with contextlib.suppress(OSError):
        while data := await source.read(CHUNK):
            sink.write(data)
            await sink.drain()
    sink.close()
