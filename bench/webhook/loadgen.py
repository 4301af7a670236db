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
    requests: list[bytes],
    deadline: float,
    latencies: list[float],
    statuses: dict[int, int],
) -> None:
    reader, writer = await asyncio.open_connection(host, port, ssl=ctx)
    i = 0
    try:
        while True:
            start = time.perf_counter()
            if start >= deadline:
                return
            writer.write(requests[i % len(requests)])
            i += 1
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
    host: str, port: int, ca_file: str, path: str, bodies: list[bytes], concurrency: int, seconds: float
) -> tuple[list[float], dict[int, int], float]:
    """(latencies in seconds, status counts, wall time) of `concurrency` connections for `seconds`,
    each connection sending `bodies` in turn, starting an equal share of them apart.

    Spread that far, the connections never send the same body within `len(bodies) / concurrency`
    requests of each other, so with more bodies than the webhook remembers, none is answered from
    its memory; started one apart, all of them would send each body within a few milliseconds."""
    ctx = ssl.create_default_context(cafile=ca_file)
    requests = [http_request(host, path, body) for body in bodies]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    start = time.perf_counter()
    deadline = start + seconds
    await asyncio.gather(
        *(
            _worker(host, port, ctx, requests[k:] + requests[:k], deadline, latencies, statuses)
            for k in (n * len(requests) // concurrency for n in range(concurrency))
        )
    )
    return latencies, statuses, time.perf_counter() - start
