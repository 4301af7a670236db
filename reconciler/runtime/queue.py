"""The work queue: deduplicated keys, one worker per key at a time, rate-limited retries.

Modelled on client-go's workqueue. ``dirty`` holds keys waiting to be processed and ``processing``
the keys a worker holds; a key added while it is processed is parked in ``dirty`` and queued again
by ``done``, so a burst of events for one ModelService collapses into one more reconcile and two
workers never reconcile the same object concurrently. Retries wait for the maximum of a per-key
exponential backoff and an overall token bucket, so one broken object backs off alone while a
mass failure cannot flood the API server.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Hashable
from typing import Generic, TypeVar

from reconciler.runtime.clock import Cancellable, Clock
from reconciler.runtime.metrics import Metrics

K = TypeVar("K", bound=Hashable)


class ShutDown(Exception):
    """The queue is shutting down; workers stop taking keys."""


class TokenBucket:
    """Token bucket of ``rate`` tokens per second holding at most ``burst``; reservations may go negative."""

    def __init__(self, rate: float, burst: int, clock: Clock) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"token bucket needs rate > 0 and burst >= 1, got rate={rate} burst={burst}")
        self._rate = rate
        self._burst = float(burst)
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock.monotonic()

    def reserve(self) -> float:
        """Take one token; return how long the caller must wait before using it (0 if available now)."""
        now = self._clock.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
        self._last = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self._rate


class RateLimiter(Generic[K]):
    """Per-key exponential backoff (base·2ⁿ capped) combined with an overall token bucket."""

    def __init__(
        self,
        clock: Clock,
        *,
        base: float = 0.005,
        cap: float = 1000.0,
        qps: float = 10.0,
        burst: int = 100,
    ) -> None:
        self._base = base
        self._cap = cap
        self._failures: dict[K, int] = {}
        self._bucket = TokenBucket(qps, burst, clock)

    def backoff(self, key: K) -> float:
        """The per-key part alone: base·2ⁿ for the n-th retry, capped."""
        exponent = self._failures.get(key, 0)
        # 2**64 seconds overflows nothing in Python, but floats do past ~2**1023: cap the exponent.
        return min(self._base * 2.0 ** min(exponent, 64), self._cap)

    def when(self, key: K) -> float:
        """Delay before the next retry of ``key``; counts this retry."""
        delay = self.backoff(key)
        self._failures[key] = self._failures.get(key, 0) + 1
        return max(delay, self._bucket.reserve())

    def retries(self, key: K) -> int:
        return self._failures.get(key, 0)

    def forget(self, key: K) -> None:
        self._failures.pop(key, None)


class WorkQueue(Generic[K]):
    """Deduplicating FIFO of keys with delayed and rate-limited adds; see the module docstring."""

    def __init__(
        self,
        clock: Clock,
        limiter: RateLimiter[K] | None = None,
        *,
        name: str = "modelservice",
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
