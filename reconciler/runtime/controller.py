"""Workers that take keys off the queue and reconcile them, with one switch on the outcome.

As controller-runtime's ``reconcileHandler``: an error retries with backoff (a ``TerminalError``
does not), ``Result(requeue_after=s)`` looks again after ``s`` seconds, ``Result(requeue=True)``
retries with backoff, success forgets the key's backoff, and ``done`` always runs. This is the
one place that catches any ``Exception``: a bug in one reconcile must not kill a worker. Every
log line of a reconcile carries its key and a fresh reconcile id (``logcontext``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from reconciler.runtime import logcontext
from reconciler.runtime.clock import Clock
from reconciler.runtime.errors import ApiError, ReconcileFailed, TerminalError
from reconciler.runtime.metrics import Metrics
from reconciler.runtime.queue import ShutDown, WorkQueue

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Result:
    """What the controller does next: nothing, retry with backoff, or look again after a delay."""

    requeue: bool = False
    requeue_after: float | None = None


ReconcileFn = Callable[[str], Awaitable[Result]]


class Controller:
    """N workers over one queue; ``run`` returns once the queue shuts down and in-flight work is done."""

    def __init__(
        self,
        name: str,
        queue: WorkQueue[str],
        reconcile: ReconcileFn,
        clock: Clock,
        metrics: Metrics,
        *,
        workers: int = 1,
    ) -> None:
        self.name = name
        self._queue = queue
        self._reconcile = reconcile
        self._clock = clock
        self._metrics = metrics
        self._workers = workers
        self.reconciles = 0
        """Reconciles run so far, for tests and benchmarks."""

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            for index in range(self._workers):
                group.create_task(self._worker(), name=f"{self.name} worker {index}")

    async def _worker(self) -> None:
        while True:
            try:
                key = await self._queue.get()
            except ShutDown:
                return
            try:
                await self.process(key)
            finally:
                self._queue.done(key)

    async def process(self, key: str) -> None:
        """Reconcile ``key`` once and requeue it as its outcome says."""
        self.reconciles += 1
        active = self._metrics.active_workers.labels(self.name)
        active.inc()
        started = self._clock.monotonic()
        with logcontext.reconciling(key):
            try:
                result = await self._reconcile(key)
            except TerminalError as e:
                self._queue.forget(key)
                self._count("error")
                log.warning(
                    "reconcile failed; not retrying until the object changes", extra={"error": str(e)}
                )
            except (ApiError, ReconcileFailed) as e:
                self._queue.add_rate_limited(key, e.retry_after or 0.0)
                self._count("error")
                log.warning("reconcile failed; retrying", extra={"error": str(e)})
            except Exception:
                self._queue.add_rate_limited(key)
                self._count("error")
                log.exception("reconcile crashed; retrying")
            else:
                self._requeue(key, result)
            finally:
                elapsed = self._clock.monotonic() - started
                self._metrics.reconcile_time.labels(self.name).observe(elapsed)
                active.dec()

    def _requeue(self, key: str, result: Result) -> None:
        if result.requeue_after:
            self._queue.forget(key)
            self._queue.add_after(key, result.requeue_after)
            self._count("requeue_after")
        elif result.requeue:
            self._queue.add_rate_limited(key)
            self._count("requeue")
        else:
            self._queue.forget(key)
            self._count("success")

    def _count(self, result: str) -> None:
        self._metrics.reconcile_total.labels(self.name, result).inc()
        if result == "error":
            self._metrics.reconcile_errors.labels(self.name).inc()
