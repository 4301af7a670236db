"""A tiny deduplicating work queue with one background task, shared by the GC and controllers.

Keys are enqueued from store listeners (synchronously, during a write) and processed later by a
single task, so in-process "controllers" never run inside the request that triggered them, just
as real controllers react to watch events after the write. `wait_idle()` lets tests wait until
every queued key has been handled instead of sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Hashable
from typing import Any

from localcluster import errors

log = logging.getLogger(__name__)


class KeyedWorker:
    """Subclasses implement `process(key)`; conflicts are retried a few times."""

    name = "worker"
    max_retries = 5

    def __init__(self) -> None:
        self._queue: dict[Hashable, int] = {}
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._timers: set[asyncio.TimerHandle] = set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"localcluster-{self.name}")

    async def stop(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def enqueue(self, key: Hashable, attempt: int = 0) -> None:
        self._queue.setdefault(key, attempt)
        self._idle.clear()
        self._wakeup.set()

    def enqueue_after(self, delay: float, key: Hashable) -> None:
        if delay <= 0:
            self.enqueue(key)
            return
        self._idle.clear()
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle | None = None

        def fire() -> None:
            if handle is not None:
                self._timers.discard(handle)
            self.enqueue(key)

        handle = loop.call_later(delay, fire)
        self._timers.add(handle)

    async def wait_idle(self) -> None:
        """Return once the queue is empty, no delayed key is pending and nothing is in progress."""
        await self._idle.wait()

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue:
                key = next(iter(self._queue))
                attempt = self._queue.pop(key)
                try:
                    await self.process(key)
                except errors.StatusError as err:
                    if err.code == 409 and attempt < self.max_retries:
                        self.enqueue(key, attempt + 1)
                    elif err.code != 404:
                        log.warning("%s: processing %s failed: %s", self.name, key, err)
                except Exception:  # the worker loop boundary: one bad key must not stop the worker
                    log.exception("%s: processing %s failed", self.name, key)
            if not self._timers:
                self._idle.set()

    async def process(self, key: Any) -> None:
        raise NotImplementedError
