"""The real server over TLS against slow, silent, departing and heavy clients.

Every wait is bounded; deadlines are set short (fractions of a second) so the behaviour shows
quickly, and each test asserts what happened, not how fast.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from certs import pki
from tests.webhook import samples
from tests.webhook.jsonlog import json_lines
from tests.webhook.test_tls_e2e import Connection
from webhook import app as webhook_app
from webhook.config import WebhookConfig
from webhook.guard import BytesBudget, GuardedConnection, close_stalled
from webhook.logs import configure
from webhook.server import WebhookServer

BOUND = 10.0  # seconds any single wait may take before the test fails


@dataclasses.dataclass
class Served:
    server: WebhookServer
    ca_pem: bytes
    writers: list[asyncio.StreamWriter] = dataclasses.field(default_factory=list)

    @property
    def port(self) -> int:
        return self.server.port

    async def raw(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        ctx = ssl.create_default_context(cadata=self.ca_pem.decode())
        async with asyncio.timeout(BOUND):
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port, ssl=ctx)
        self.writers.append(writer)  # closed at teardown, whatever the server did to them
        return reader, writer

    async def get(self, path: str) -> int:
        reader, writer = await self.raw()
        writer.write(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
        async with asyncio.timeout(BOUND):
            head = await reader.readuntil(b"\r\n\r\n")
        writer.close()
        return int(head[9:12])


@contextlib.asynccontextmanager
async def _serve(tmp_path: Path, **overrides: object) -> AsyncIterator[Served]:
    ca = pki.create_ca()
    pair = pki.issue_serving_cert(ca, ["localhost"], ["127.0.0.1"])
    (tmp_path / "tls.key").write_bytes(pair.key_pem)
    (tmp_path / "tls.crt").write_bytes(pair.cert_pem)
    config = WebhookConfig(
        host="127.0.0.1",
        port=0,
        metrics_port=-1,
        cert_file=tmp_path / "tls.crt",
        key_file=tmp_path / "tls.key",
        cert_poll_seconds=0,
        **overrides,  # type: ignore[arg-type]
    )
    server = WebhookServer(config)
    await server.start()
    served = Served(server, ca.cert_pem)
    try:
        yield served
    finally:
        for writer in served.writers:
            writer.transport.abort()
        await server.stop()


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    async with _serve(tmp_path, header_timeout=0.3, body_timeout=0.3, keepalive_timeout=0.3) as s:
        yield s


async def _closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection (within the bound)."""
    async with asyncio.timeout(BOUND):
        return await reader.read()


async def test_a_connection_that_never_sends_a_byte_is_closed(served: Served) -> None:
    reader, _ = await served.raw()
    assert await _closed(reader) == b""
    assert served.server.connections == {} or all(c is not None for c in served.server.connections.values())


async def test_headers_trickling_past_the_deadline_close_the_connection(served: Served) -> None:
    reader, writer = await served.raw()
    writer.write(b"POST /validate HTTP/1.1\r\nHost: local")  # and never the rest
    assert await _closed(reader) == b""
    assert await served.get("/healthz") == 200  # the server itself is fine


async def test_a_body_stalled_past_its_deadline_gets_408_and_the_connection_closes(served: Served) -> None:
    reader, writer = await served.raw()
    writer.write(b"POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n")
    writer.write(b"Content-Length: 5000\r\n\r\n" + b'{"apiVersion": ')  # 15 of 5,000 bytes
    answer = await _closed(reader)
    assert answer.startswith(b"HTTP/1.1 408 ")
    review = orjson.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert review["response"]["status"]["message"] == "body not received within 0.3 s"


async def test_an_idle_keep_alive_connection_is_closed_after_the_keepalive_timeout(served: Served) -> None:
    conn = await Connection.open(served.port, served.ca_pem)
    status, review = await conn.post("/validate", orjson.dumps(samples.review(samples.minimal())))
    assert status == 200 and review["response"]["allowed"] is True
    assert await _closed(conn.reader) == b""


async def test_a_keep_alive_connection_serves_request_after_request(served: Served) -> None:
    conn = await Connection.open(served.port, served.ca_pem)
    for _ in range(3):
        status, _ = await conn.post("/validate", orjson.dumps(samples.review(samples.minimal())))
        assert status == 200
    await conn.close()


async def test_a_client_leaving_mid_body_is_one_log_line(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    _, writer = await served.raw()
    writer.write(b"POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n")
    writer.write(b"Content-Length: 5000\r\n\r\n{")
    await writer.drain()
    await _in_flight(served, 1)  # the handler is reading the body
    writer.transport.abort()
    async with asyncio.timeout(BOUND):
        while not any("disconnected" in r.getMessage() for r in caplog.records):
            await asyncio.sleep(0.01)
    assert [r.getMessage() for r in caplog.records if "disconnected" in r.getMessage()] == [
        "client disconnected before sending the whole body"
    ]
    assert not [r for r in caplog.records if r.exc_info], "no tracebacks"
    assert await served.get("/healthz") == 200


async def test_health_checks_answer_while_a_heavy_body_is_judged(tmp_path: Path) -> None:
    # 40,000 bad node selector entries take on the order of a second to judge: in the worker
    # thread, so the health probe answers first.
    selector = {f"k{i}": i for i in range(40_000)}
    body = orjson.dumps(
        samples.review(samples.with_changes(samples.minimal(), "spec.decode.nodeSelector", selector))
    )
    assert len(body) > webhook_app.INLINE_BODY_BYTES
    async with _serve(tmp_path) as served:
        conn = await Connection.open(served.port, served.ca_pem)
        heavy = asyncio.create_task(conn.post("/validate", body))
        await _in_flight(served, 1)
        probes = 0
        while not heavy.done():
            assert await served.get("/healthz") == 200
            probes += 1
        status, review = await heavy
        assert status == 200 and review["response"]["allowed"] is False
        assert probes >= 2, "the probe answered while the heavy request was judged"
        await conn.close()


async def test_bodies_beyond_the_byte_budget_wait_their_turn(tmp_path: Path) -> None:
    # A budget of one near-limit body: while a stalled one holds it, the next request waits; when
    # the stalled one times out the waiting one is answered.
    async with _serve(
        tmp_path, max_body_bytes=100_000, max_bytes_in_flight=100_000, body_timeout=0.5
    ) as served:
        budget = served.server.app[webhook_app.LIMITS_KEY].budget
        reader, writer = await served.raw()
        writer.write(b"POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n")
        writer.write(b"Content-Length: 99900\r\n\r\n{")
        await _in_flight(served, 1)
        assert budget.in_use == 99_900  # too little left for the next request
        conn = await Connection.open(served.port, served.ca_pem)
        waiting = asyncio.create_task(conn.post("/validate", orjson.dumps(samples.review(samples.minimal()))))
        async with asyncio.timeout(BOUND):
            while not budget.waiting:
                await asyncio.sleep(0.005)
        assert not waiting.done()
        assert (await _closed(reader)).startswith(b"HTTP/1.1 408 ")
        status, review = await waiting
        assert status == 200 and review["response"]["allowed"] is True
        assert budget.in_use == 0
        await conn.close()


async def _in_flight(served: Served, count: int) -> None:
    async with asyncio.timeout(BOUND):
        while served.server.metrics.in_flight < count:
            await asyncio.sleep(0.005)


async def test_the_budget_grants_in_order_and_never_beyond_its_limit() -> None:
    budget = BytesBudget(10)
    assert await budget.acquire(6) == 6
    order: list[str] = []

    async def take(name: str, size: int) -> None:
        got = await budget.acquire(size)
        order.append(name)
        assert budget.in_use <= budget.limit
        budget.release(got)

    big, small = asyncio.create_task(take("big", 8)), asyncio.create_task(take("small", 1))
    await asyncio.sleep(0)
    assert order == []  # small fits, but waits behind big: first come, first served
    budget.release(6)
    async with asyncio.timeout(BOUND):
        await asyncio.gather(big, small)
    assert order == ["big", "small"] and budget.in_use == 0
    assert await budget.acquire(50) == 10  # more than the whole budget waits for all of it
    budget.release(10)


async def test_a_cancelled_waiter_gives_its_place_back() -> None:
    budget = BytesBudget(4)
    held = await budget.acquire(4)
    waiter = asyncio.create_task(budget.acquire(3))
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    budget.release(held)
    assert budget.in_use == 0
    assert await budget.acquire(4) == 4


async def test_a_malformed_request_is_one_info_line_without_a_traceback(served: Served) -> None:
    configure("INFO")  # installs the filter on aiohttp's server logger
    try:
        with json_lines("aiohttp.server", logging.DEBUG) as lines:
            conn = await Connection.open(served.port, served.ca_pem)
            status, _ = await conn.post("/validate", orjson.dumps(samples.review(samples.minimal())))
            assert status == 200
            conn.writer.write(b"POST /validate HTTP/1.1\r\nHost: localhost\r\nBad header line\r\n\r\n")
            answer = await _closed(conn.reader)
            assert b" 400 Bad Request" in answer.split(b"\r\n", 1)[0]
    finally:
        logging.getLogger().handlers.clear()
    (line,) = [x for x in lines if "Error handling request" in x["msg"]]
    assert line["level"] == "INFO" and "exc" not in line
    assert "BadHttpMessage" in line["msg"] or "LineTooLong" in line["msg"] or "InvalidHeader" in line["msg"]


def test_the_sweep_closes_exactly_the_connections_waiting_too_long() -> None:
    class Transport(asyncio.Transport):
        def __init__(self) -> None:
            super().__init__()
            self.closed = False

        def is_closing(self) -> bool:
            return self.closed

        def close(self) -> None:
            self.closed = True

        def get_extra_info(self, name: str, default: object = None) -> object:
            return ("192.0.2.1", 1234) if name == "peername" else default

    registry: dict[object, GuardedConnection] = {}
    connections = {}
    for name, since in (("fresh", 99.5), ("stalled", 88.0), ("busy", None), ("at the limit", 90.0)):
        connection = GuardedConnection(asyncio.Protocol(), registry)
        connection.transport, connection.waiting_since = Transport(), since
        registry[connection.transport] = connections[name] = connection
    assert close_stalled(registry, 10.0, now=100.0) == 2
    closed = {n for n, c in connections.items() if c.transport is not None and c.transport.is_closing()}
    assert closed == {"stalled", "at the limit"}
    assert close_stalled(registry, 10.0, now=100.0) == 0  # each is closed once
