"""The running reconciler: discovery, caches, leader election, workers, resync; start and stop.

Start-up: discover the kinds (waiting for the ModelService CRD if needed), start one informer per
served kind and one for the serving pods (their status is read, never written; ``watches`` says
how each kind maps to ModelServices), wait until every cache has synced, then campaign for the
Lease (standbys keep their caches warm) and, once leading, start the workers. Optional
third-party kinds whose CRD is absent are re-discovered every ``discovery_period``; when one
appears its informer starts and every ModelService is reconciled again, so its children get
created.

Every ``resync_period`` every ModelService is enqueued again and the cached-object gauge is
updated. A resync reads nothing new (reconciles read the cache): a ModelService whose object,
children, pods and served kinds are unchanged since its last no-op reconcile is skipped
(``Deps.no_op_fingerprints``) without an API request. What the resync does re-run are the
reconciles that were not no-ops (a failure, a conflict, a requeue), and a foreign object that
``ConflictMemo`` remembered for one period is tried again.

``stop()`` is the graceful path (SIGTERM): no new keys, in-flight reconciles finish, the Lease is
released. Cancelling ``run()`` is the abrupt path, as a crash would be: the Lease is left to expire.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

from reconciler import watches
from reconciler.controller import ConflictMemo, Deps
from reconciler.pods import POD
from reconciler.reconcile import reconcile
from reconciler.runtime.cache import GVK, Cache
from reconciler.runtime.client import Client
from reconciler.runtime.clock import Clock, SystemClock
from reconciler.runtime.controller import Controller
from reconciler.runtime.discovery import RestMapper
from reconciler.runtime.errors import ApiError
from reconciler.runtime.events import EventRecorder
from reconciler.runtime.leader import LeaderElector, LeaseConfig
from reconciler.runtime.metrics import Metrics
from reconciler.runtime.queue import WorkQueue
from reconciler.runtime.ratelimit import RateLimiter
from shared import api, labels
from shared.builders import BUILDERS
from shared.settings import OperatorSettings

log = logging.getLogger(__name__)

CONTROLLER_NAME = "modelservice"
REPORTING_CONTROLLER = "modelservice-controller"
"""reportingController of the Events the reconciler records."""
OWNED_KINDS: tuple[GVK, ...] = tuple(dict.fromkeys((c.api_version, c.kind) for c in BUILDERS))


class LeadershipLost(Exception):
    """The Lease could not be renewed in time; the process must exit and start over as a candidate."""


def default_identity() -> str:
    """Pod name (or host name) plus a random suffix, so a restarted pod is a new candidate."""
    return f"{os.environ.get('POD_NAME') or socket.gethostname()}_{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class ManagerOptions:
    """How the reconciler runs (what it builds is ``OperatorSettings``)."""

    namespaces: tuple[str, ...] = ()
    workers: int = 2
    resync_period: float = 300.0
    discovery_period: float = 30.0
    watch_timeout: int = 300
    leader_election: LeaseConfig | None = None
    instance: str = ""
    """reportingInstance of Events (the pod name)."""
    queue_qps: float = 10.0
    queue_burst: int = 100


class Manager:
    """Owns every long-running part of one reconciler process."""

    def __init__(
        self,
        client: Client,
        settings: OperatorSettings,
        options: ManagerOptions,
        *,
        clock: Clock | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.client = client
        self.options = options
        self.clock = clock or SystemClock()
        self.metrics = metrics or Metrics()
        limiter: RateLimiter[str] = RateLimiter(self.clock, qps=options.queue_qps, burst=options.queue_burst)
        self.queue: WorkQueue[str] = WorkQueue(
            self.clock, limiter, name=CONTROLLER_NAME, metrics=self.metrics
        )
        self.mapper = RestMapper(client)
        self.cache = Cache(
            client,
            self.clock,
            self.queue.add,
            watches.relation,
            namespaces=options.namespaces,
            watch_timeout=options.watch_timeout,
        )
        instance = options.instance or os.environ.get("POD_NAME") or socket.gethostname()
        self.events = EventRecorder(client, self.clock, instance, controller=REPORTING_CONTROLLER)
        self.deps = Deps(
            client,
            self.cache,
            self.mapper,
            settings,
            self.events,
            self.clock,
            ConflictMemo(self.clock, options.resync_period),
        )
        self.controller = Controller(
            CONTROLLER_NAME,
            self.queue,
            lambda key: reconcile(key, self.deps),
            self.clock,
            self.metrics,
            workers=options.workers,
        )
        lease = options.leader_election
        self.elector = LeaderElector(client, lease, self.clock, self.metrics) if lease else None
        self._stopping = asyncio.Event()

    @property
    def synced(self) -> bool:
        return bool(self.cache.informers()) and self.cache.synced()

    @property
    def leading(self) -> bool:
        return self.elector is None or self.elector.is_leader

    def stop(self) -> None:
        """Graceful shutdown: finish in-flight reconciles, release the Lease, return from ``run``."""
        self._stopping.set()

    async def run(self) -> None:
        """Run until ``stop()``; raises LeadershipLost if the Lease could not be renewed."""
        try:
            if not await self._started_unless_stopped():
                return
            async with asyncio.TaskGroup() as group:
                lost = await self._run_group(group)
        finally:
            await self.cache.stop()
        if lost:
            raise LeadershipLost(f"lost the lease as {self.elector and self.elector.identity}")

    async def _started_unless_stopped(self) -> bool:
        """Start the caches; False if ``stop()`` came first (a cache that cannot sync, say a list
        that RBAC refuses, must not keep a graceful stop waiting)."""
        starting = asyncio.create_task(self._start_caches(), name="start caches")
        stopping = asyncio.create_task(self._stopping.wait(), name="stop requested")
        try:
            await asyncio.wait((starting, stopping), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (starting, stopping):
                if not task.done():
                    task.cancel()
            await asyncio.gather(starting, stopping, return_exceptions=True)
        if starting.cancelled():
            return False
        starting.result()  # re-raises what went wrong
        return True

    async def _run_group(self, group: asyncio.TaskGroup) -> bool:
        """Campaign, work while leading, then wind down; True if leadership was lost."""
        background = [
            group.create_task(self._rediscover_loop(), name="rediscover"),
            group.create_task(self._resync_loop(), name="resync"),
        ]
        election = group.create_task(self.elector.run(), name="election") if self.elector else None
        lost = False
        if self.elector is not None and election is not None:
            await _first(self._stopping.wait(), self.elector.elected.wait(), election)
        if not self._stopping.is_set() and self.leading:
            log.info("starting workers", extra={"workers": self.options.workers})
            workers = group.create_task(self.controller.run(), name="workers")
            await _first(self._stopping.wait(), *([election] if election else []))
            lost = not self._stopping.is_set()
            self.queue.shut_down()
            await workers
        if self.elector is not None:
            await self.elector.release()
        for task in [*background, *([election] if election else [])]:
            task.cancel()
        return lost

    async def _start_caches(self) -> None:
        while True:
            try:
                await self._discover()
            except ApiError as e:
                log.warning("discovery failed; retrying", extra={"error": str(e)})
            else:
                if self.mapper.served(api.API_VERSION, api.KIND):
                    break
                log.warning("ModelService CRD is not served yet; waiting", extra={"crd": api.CRD_NAME})
            await self.clock.sleep(min(self.options.discovery_period, 5.0))
        self.cache.watch(self.mapper.resource(api.API_VERSION, api.KIND))
        for gvk in self._served_owned():
            self.cache.watch(self.mapper.resource(*gvk), labels.MANAGED_SELECTOR)
        # Every serving pod template carries the managed-by label, so the same selector finds the
        # decode, prefill and EPP pods and nothing else.
        self.cache.watch(self.mapper.resource(*POD), labels.MANAGED_SELECTOR)
        await self.cache.wait_synced()
        log.info("caches synced", extra={"objects": self.cache.size(), "missing": self._missing()})

    async def _discover(self) -> None:
        await self.mapper.refresh([api.API_VERSION, POD[0], *(gvk[0] for gvk in OWNED_KINDS)])

    def _served_owned(self) -> list[GVK]:
        return [gvk for gvk in OWNED_KINDS if self.mapper.served(*gvk)]

    def _missing(self) -> list[str]:
        return [gvk[1] for gvk in OWNED_KINDS if not self.mapper.served(*gvk)]

    async def _rediscover_loop(self) -> None:
        """Notice optional CRDs being installed (or removed) and start (or stop) their informers.

        Only group-versions that are missing, or whose informer gets 404, are asked about, so a
        cluster with every CRD installed sees no discovery requests after start-up.
        """
        while True:
            await self.clock.sleep(self.options.discovery_period)
            stale = {gvk[0] for gvk in OWNED_KINDS if not self.mapper.served(*gvk)}
            stale.update(gvk[0] for gvk in self.cache.unserved())
            if not stale:
                continue  # everything is served and watched: nothing to ask the API server
            try:
                await self.mapper.refresh(stale)
            except ApiError as e:
                log.warning("discovery failed", extra={"error": str(e)})
                continue
            await self.sync_kinds()

    async def sync_kinds(self) -> None:
        """Match the informers to the served kinds; reconcile everything when that changed."""
        changed = False
        for gvk in OWNED_KINDS:
            served, watching = self.mapper.served(*gvk), self.cache.watching(gvk)
            if served and not watching:
                log.info("kind became available; watching it", extra={"kind": gvk[1]})
                self.cache.watch(self.mapper.resource(*gvk), labels.MANAGED_SELECTOR)
                changed = True
            elif watching and not served:
                log.warning("kind is no longer served; its children are skipped", extra={"kind": gvk[1]})
                await self.cache.unwatch(gvk)
                changed = True
        if changed:
            await self.cache.wait_synced()
            self.enqueue_all()

    async def _resync_loop(self) -> None:
        while True:
            await self.clock.sleep(self.options.resync_period)
            self.enqueue_all()
            for kind, count in self.cache.size().items():
                self.metrics.cached_objects.labels(kind).set(count)

    def enqueue_all(self) -> None:
        for key in self.cache.keys(watches.MODELSERVICE):
            self.queue.add(key)


async def _first(*waits: Awaitable[Any]) -> None:
    """Wait until the first of ``waits`` finishes; cancel the helper tasks made for the others."""
    tasks = [w if isinstance(w, asyncio.Task) else asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task, wait in zip(tasks, waits, strict=True):
            if task is not wait:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
