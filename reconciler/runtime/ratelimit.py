"""Rate limiting shared by the API client and the work queue: a token bucket and a per-key backoff.

As client-go's ``flowcontrol`` token bucket (the client's QPS and burst) and the workqueue's
default controller rate limiter (per-key exponential backoff, at most an overall bucket's pace).
Both read an injected clock, so tests drive them without sleeping.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

from reconciler.runtime.clock import Clock

K = TypeVar("K", bound=Hashable)


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
