"""Work queue and rate limiters, driven by a manual clock."""

from __future__ import annotations

import asyncio

import pytest

from reconciler.runtime.metrics import Metrics
from reconciler.runtime.queue import ShutDown, WorkQueue
from reconciler.runtime.ratelimit import RateLimiter, TokenBucket
from tests.reconciler.fakeclock import ManualClock


def _queue(clock: ManualClock | None = None, **limits: float) -> WorkQueue[str]:
    clock = clock or ManualClock()
    qps = limits.get("qps", 1e9)
    burst = int(limits.get("burst", 10**9))
    return WorkQueue(clock, RateLimiter(clock, qps=qps, burst=burst), name="modelservice")


async def _get(queue: WorkQueue[str]) -> str:
    async with asyncio.timeout(1):
        return await queue.get()


async def test_repeated_adds_of_one_key_collapse_into_one_item() -> None:
    queue = _queue()
    for key in ["a", "b", "a", "a", "b", "c"]:
        queue.add(key)
    assert len(queue) == 3
    assert [await _get(queue) for _ in range(3)] == ["a", "b", "c"]


async def test_a_key_added_while_processing_waits_until_done() -> None:
    queue = _queue()
    queue.add("a")
    assert await _get(queue) == "a"
    queue.add("a")
    queue.add("a")
    assert len(queue) == 0, "a key held by a worker must not be handed to a second worker"
    assert queue.is_processing("a")
    queue.done("a")
    assert len(queue) == 1
    assert await _get(queue) == "a"
    queue.done("a")
    assert len(queue) == 0


async def test_two_workers_never_hold_the_same_key() -> None:
    queue = _queue()
    held: set[str] = set()
    overlaps: list[str] = []
    processed: list[str] = []

    async def worker() -> None:
        while True:
            try:
                key = await queue.get()
            except ShutDown:
                return
            if key in held:
                overlaps.append(key)
            held.add(key)
            await asyncio.sleep(0)  # yield so the other worker runs while this key is held
            queue.add(key)  # re-added while held: must wait for done
            processed.append(key)
            held.discard(key)
            queue.done(key)
            if len(processed) >= 40:
                queue.shut_down()

    queue.add("a")
    queue.add("b")
    async with asyncio.timeout(5):
        await asyncio.gather(worker(), worker())
    assert overlaps == []
    assert len(processed) >= 40
    assert set(processed) == {"a", "b"}


@pytest.mark.parametrize(
    ("retry", "expected"),
    [(0, 0.005), (1, 0.01), (2, 0.02), (10, 5.12), (17, 655.36), (18, 1000.0), (200, 1000.0)],
    ids=["first", "second", "third", "eleventh", "last-below-cap", "capped", "far-past-cap"],
)
def test_per_key_backoff_is_5ms_doubling_capped_at_1000s(retry: int, expected: float) -> None:
    limiter: RateLimiter[str] = RateLimiter(ManualClock(), qps=1e9, burst=10**9)
    for _ in range(retry):
        limiter.when("k")
    assert limiter.when("k") == pytest.approx(expected)


def test_backoff_is_per_key_and_forget_resets_it() -> None:
    limiter: RateLimiter[str] = RateLimiter(ManualClock(), qps=1e9, burst=10**9)
    for _ in range(5):
        limiter.when("a")
    assert limiter.when("b") == pytest.approx(0.005)
    assert limiter.retries("a") == 5
    limiter.forget("a")
    assert limiter.retries("a") == 0
    assert limiter.when("a") == pytest.approx(0.005)


def test_token_bucket_allows_the_burst_then_spaces_by_rate() -> None:
    clock = ManualClock()
    bucket = TokenBucket(10.0, 100, clock)
    assert [bucket.reserve() for _ in range(100)] == [0.0] * 100
    assert bucket.reserve() == pytest.approx(0.1)
    assert bucket.reserve() == pytest.approx(0.2)
    clock.advance(1.0)  # refills 10 tokens, 2 of which were already reserved
    assert [bucket.reserve() for _ in range(8)] == [0.0] * 8
    assert bucket.reserve() == pytest.approx(0.1)


def test_limiter_takes_the_larger_of_backoff_and_bucket() -> None:
    limiter: RateLimiter[str] = RateLimiter(ManualClock(), qps=10, burst=2)
    assert limiter.when("a") == pytest.approx(0.005)  # bucket has tokens: backoff wins
    assert limiter.when("b") == pytest.approx(0.005)
    assert limiter.when("c") == pytest.approx(0.1)  # bucket empty: its wait wins


async def test_add_after_adds_only_when_the_clock_reaches_the_delay() -> None:
    clock = ManualClock()
    queue = _queue(clock)
    queue.add_after("a", 5.0)
    assert len(queue) == 0
    clock.advance(4.9)
    assert len(queue) == 0
    clock.advance(0.1)
    assert len(queue) == 1
    assert await _get(queue) == "a"


async def test_the_earliest_of_several_delays_wins() -> None:
    clock = ManualClock()
    queue = _queue(clock)
    queue.add_after("a", 10.0)
    queue.add_after("a", 2.0)
    queue.add_after("a", 7.0)
    assert clock.pending_timers == 1
    clock.advance(2.0)
    assert len(queue) == 1
    clock.advance(20.0)
    assert len(queue) == 1


async def test_add_rate_limited_backs_off_and_counts_retries() -> None:
    clock = ManualClock()
    metrics = Metrics()
    queue: WorkQueue[str] = WorkQueue(
        clock, RateLimiter(clock, qps=1e9, burst=10**9), name="modelservice", metrics=metrics
    )
    queue.add_rate_limited("a")
    queue.add_rate_limited("a")  # second retry's 10 ms delay is later than the first: ignored
    clock.advance(0.004)
    assert len(queue) == 0
    clock.advance(0.001)
    assert len(queue) == 1
    assert queue.retries("a") == 2
    assert metrics.registry.get_sample_value("workqueue_retries_total", {"name": "modelservice"}) == 2
    assert metrics.registry.get_sample_value("workqueue_adds_total", {"name": "modelservice"}) == 1


async def test_add_rate_limited_honours_a_longer_retry_after() -> None:
    clock = ManualClock()
    queue = _queue(clock)
    queue.add_rate_limited("a", at_least=3.0)
    clock.advance(2.9)
    assert len(queue) == 0
    clock.advance(0.1)
    assert len(queue) == 1


async def test_shut_down_releases_waiting_workers_and_drops_timers() -> None:
    clock = ManualClock()
    queue = _queue(clock)
    waiting = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    queue.add_after("a", 1.0)
    queue.shut_down()
    with pytest.raises(ShutDown):
        async with asyncio.timeout(1):
            await waiting
    assert clock.pending_timers == 0
    queue.add("b")
    assert len(queue) == 0
    with pytest.raises(ShutDown):
        await _get(queue)


async def test_a_cancelled_getter_passes_its_wake_up_on() -> None:
    queue = _queue()
    first = asyncio.ensure_future(queue.get())
    second = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    queue.add("a")  # wakes `first`
    first.cancel()
    async with asyncio.timeout(1):
        assert await second == "a"
    with pytest.raises(asyncio.CancelledError):
        await first
