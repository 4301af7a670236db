"""The work queue: deduplicated keys, one worker per key at a time, rate-limited retries.

Modelled on client-go's workqueue. ``dirty`` holds keys waiting to be processed and ``processing``
the keys a worker holds; a key added while it is processed is parked in ``dirty`` and queued again
by ``done``, so a burst of events for one object collapses into one more reconcile and two
workers never reconcile the same object concurrently. Retries wait as ``ratelimit.RateLimiter``
says: the maximum of a per-key exponential backoff and an overall token bucket, so one broken
object backs off alone while a mass failure cannot flood the API server.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Hashable
from typing import Generic, TypeVar

from reconciler.runtime.clock import Cancellable, Clock
from reconciler.runtime.metrics import Metrics
from reconciler.runtime.ratelimit import RateLimiter

K = TypeVar("K", bound=Hashable)


class ShutDown(Exception):
    """The queue is shutting down; workers stop taking keys."""


class WorkQueue(Generic[K]):
    """Deduplicating FIFO of keys with delayed and rate-limited adds; see the module docstring."""

    def __init__(
        self,
        clock: Clock,
        limiter: RateLimiter[K] | None = None,
        *,
        name: str,
        metrics: Metrics | None = None,
    ) -> None:
        self._clock = clock
        self._limiter: RateLimiter[K] = limiter if limiter is not None else RateLimiter(clock)
        self._name = name
        self._metrics = metrics
        self._queue: deque[K] = deque()
        self._dirty: set[K] = set()
        self._processing: set[K] = set()
        self._added_at: dict[K, float] = {}
        self._waiting: dict[K, tuple[float, Cancellable]] = {}
        self._getters: deque[asyncio.Future[None]] = deque()
        self._shutting_down = False

    def __len__(self) -> int:
        return len(self._queue)

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def is_processing(self, key: K) -> bool:
        return key in self._processing

    @property
    def busy(self) -> int:
        """Keys queued or being processed (delayed keys not counted)."""
        return len(self._queue) + len(self._processing)

    def add(self, key: K) -> None:
        """Queue ``key`` unless it is already waiting; a key being processed is re-queued by ``done``."""
        if self._shutting_down or key in self._dirty:
            return
        self._dirty.add(key)
        self._added_at[key] = self._clock.monotonic()
        if self._metrics is not None:
            self._metrics.queue_adds.labels(self._name).inc()
        if key in self._processing:
            return
        self._push(key)

    def add_after(self, key: K, delay: float) -> None:
        """Add ``key`` after ``delay`` seconds; of several pending delays for one key the earliest wins."""
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(key)
            return
        ready_at = self._clock.monotonic() + delay
        pending = self._waiting.get(key)
        if pending is not None:
            if pending[0] <= ready_at:
                return
            pending[1].cancel()
        handle = self._clock.call_later(delay, lambda: self._fire(key))
        self._waiting[key] = (ready_at, handle)

    def add_rate_limited(self, key: K, at_least: float = 0.0) -> None:
        """Retry ``key`` after its backoff (and at least ``at_least`` seconds, e.g. a Retry-After)."""
        if self._metrics is not None:
            self._metrics.queue_retries.labels(self._name).inc()
        self.add_after(key, max(self._limiter.when(key), at_least))

    def forget(self, key: K) -> None:
        """Reset the backoff of ``key`` (after a success)."""
        self._limiter.forget(key)

    def retries(self, key: K) -> int:
        return self._limiter.retries(key)

    async def get(self) -> K:
        """The next key; the caller owns it until ``done``. Raises ShutDown once shutting down."""
        while not self._queue:
            if self._shutting_down:
                raise ShutDown
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._getters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                self._handoff(waiter)
                raise
        if self._shutting_down:
            raise ShutDown
        key = self._queue.popleft()
        self._processing.add(key)
        self._dirty.discard(key)
        added_at = self._added_at.pop(key, None)
        if self._metrics is not None:
            self._metrics.queue_depth.labels(self._name).set(len(self._queue))
            if added_at is not None:
                self._metrics.queue_duration.labels(self._name).observe(self._clock.monotonic() - added_at)
        return key

    def done(self, key: K) -> None:
        """Release ``key``; if it was added meanwhile, queue it again."""
        self._processing.discard(key)
        if key in self._dirty:
            self._push(key)

    def shut_down(self) -> None:
        """Stop handing out keys and drop pending timers; in-flight keys finish normally."""
        self._shutting_down = True
        for _, handle in self._waiting.values():
            handle.cancel()
        self._waiting.clear()
        while self._getters:
            getter = self._getters.popleft()
            if not getter.done():
                getter.set_result(None)

    def _fire(self, key: K) -> None:
        self._waiting.pop(key, None)
        self.add(key)

    def _push(self, key: K) -> None:
        self._queue.append(key)
        if self._metrics is not None:
            self._metrics.queue_depth.labels(self._name).set(len(self._queue))
        self._wake_one()

    def _wake_one(self) -> None:
        while self._getters:
            getter = self._getters.popleft()
            if not getter.done():
                getter.set_result(None)
                return

    def _handoff(self, waiter: asyncio.Future[None]) -> None:
        """A cancelled getter passes a wake-up it already received on to the next getter."""
        if waiter in self._getters:
            self._getters.remove(waiter)
        elif waiter.done() and not waiter.cancelled() and self._queue:
            self._wake_one()
