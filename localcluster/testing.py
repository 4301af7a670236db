"""Helpers for tests that talk to a `LocalCluster` with the official client or raw HTTP.

The official synchronous client blocks, and the cluster serves from the test's own event loop,
so synchronous calls must run in a thread (`await asyncio.to_thread(api.list_namespace)`); the
asynchronous client (`kubernetes.aio`) can be awaited directly.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import kubernetes.aio.client as aio_client
import kubernetes.client

from localcluster.cluster import LocalCluster

Manifest = dict[str, Any]


def api_client(cluster: LocalCluster | str) -> kubernetes.client.ApiClient:
    """A synchronous official client configured for the cluster (close it, or use `with`)."""
    config = kubernetes.client.Configuration()
    config.host = cluster if isinstance(cluster, str) else cluster.url
    return kubernetes.client.ApiClient(config)


def async_api_client(cluster: LocalCluster | str) -> aio_client.ApiClient:
    """An asynchronous official client (`kubernetes.aio`) configured for the cluster."""
    config = aio_client.Configuration()
    config.host = cluster if isinstance(cluster, str) else cluster.url
    return aio_client.ApiClient(config)


@asynccontextmanager
async def raw_watch(cluster: LocalCluster, path: str, timeout: float = 5.0) -> AsyncIterator[WatchStream]:
    """Open `GET path` (add `?watch=1&...` yourself) and read events one by one."""
    async with aiohttp.ClientSession() as session, session.get(cluster.url + path) as resp:
        yield WatchStream(resp, timeout)


class WatchStream:
    def __init__(self, resp: aiohttp.ClientResponse, timeout: float) -> None:
        self.resp = resp
        self.timeout = timeout

    async def next(self) -> Manifest:
        """The next event; raises TimeoutError if none arrives in time, EOFError at stream end."""
        async with asyncio.timeout(self.timeout):
            line = await self.resp.content.readline()
        if not line:
            raise EOFError("watch stream ended")
        event: Manifest = json.loads(line)
        return event

    async def until(self, predicate: Any) -> Manifest:
        """Skip events until one satisfies `predicate(event)`."""
        while True:
            event = await self.next()
            if predicate(event):
                return event

    async def rest(self) -> list[Manifest]:
        """Every remaining event until the server ends the stream."""
        out = []
        while True:
            try:
                out.append(await self.next())
            except EOFError:
                return out
