"""A small keep-alive HTTPS load generator on raw asyncio streams (the aiohttp client costs more
CPU per request than the server under test, so it cannot drive it to saturation)."""

from __future__ import annotations

import asyncio
import ssl
import time


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return status


async def _worker(
    host: str,
    port: int,
    ctx: ssl.SSLContext,
    request: bytes,
    deadline: float,
    latencies: list[float],
    statuses: dict[int, int],
) -> None:
    reader, writer = await asyncio.open_connection(host, port, ssl=ctx)
    try:
        while True:
            start = time.perf_counter()
            if start >= deadline:
                return
            writer.write(request)
            status = await _read_response(reader)
            latencies.append(time.perf_counter() - start)
            statuses[status] = statuses.get(status, 0) + 1
    finally:
        writer.close()


def http_request(host: str, path: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
    )
    return head.encode() + body


async def run(
    host: str, port: int, ca_file: str, path: str, body: bytes, concurrency: int, seconds: float
) -> tuple[list[float], dict[int, int], float]:
    """(latencies in seconds, status counts, wall time) of `concurrency` connections for `seconds`."""
    ctx = ssl.create_default_context(cafile=ca_file)
    request = http_request(host, path, body)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    start = time.perf_counter()
    deadline = start + seconds
    await asyncio.gather(
        *(_worker(host, port, ctx, request, deadline, latencies, statuses) for _ in range(concurrency))
    )
    return latencies, statuses, time.perf_counter() - start
