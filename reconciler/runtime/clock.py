"""The clock every time-dependent part reads: queue delays, backoff, leases, events, status times.

Injecting it lets tests drive rate limiters, delayed requeues and lease expiry without sleeping.
``SystemClock`` is the real one; tests bring a manual clock with the same shape.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol


class Cancellable(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    """Monotonic time for intervals, wall time for API timestamps, timers and sleeps."""

    def monotonic(self) -> float: ...

    def now(self) -> datetime:
        """Current wall time, timezone-aware UTC."""
        ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> Cancellable: ...

    async def sleep(self, delay: float) -> None: ...


class SystemClock:
    """The real clock: ``time.monotonic`` and the running event loop's timers."""

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now(UTC)

    def call_later(self, delay: float, callback: Callable[[], None]) -> Cancellable:
        return asyncio.get_running_loop().call_later(delay, callback)

    async def sleep(self, delay: float) -> None:
        await asyncio.sleep(delay)


def format_micro_time(moment: datetime) -> str:
    """metav1.MicroTime: RFC 3339 in UTC with microseconds (Events, Leases)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
