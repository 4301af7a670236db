"""Leader election on a ``coordination.k8s.io/v1`` Lease, as client-go's leaderelection does it.

Every replica tries to take or renew the Lease every ``retry_period``; writes carry the Lease's
resourceVersion, so of two candidates exactly one wins. A candidate judges expiry by how long it
has seen the *same* Lease record (on its own monotonic clock, never comparing wall clocks across
machines), so a standby takes over at most ``lease_duration`` after the leader stopped renewing.
A leader that cannot renew within ``renew_deadline`` steps down; its process then exits so a
fresh process starts as a candidate. On shutdown the leader releases the Lease by clearing
``holderIdentity``, so a standby takes over at its next retry instead of waiting for expiry.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from reconciler.runtime.client import Manifest, Resource
from reconciler.runtime.clock import Clock, format_micro_time
from reconciler.runtime.errors import ApiError, NotFound
from reconciler.runtime.metrics import Metrics

log = logging.getLogger(__name__)

LEASES = Resource("coordination.k8s.io", "v1", "Lease", "leases", namespaced=True)


class LeaseClient(Protocol):
    async def get(self, resource: Resource, name: str, namespace: str | None = None) -> Manifest: ...

    async def create(self, resource: Resource, obj: Manifest) -> Manifest: ...

    async def replace(self, resource: Resource, obj: Manifest) -> Manifest: ...


@dataclass(frozen=True)
class LeaseConfig:
    """Which Lease, who we are, and the timing (seconds; the lease duration is whole seconds on the wire)."""

    name: str
    namespace: str
    identity: str
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def __post_init__(self) -> None:
        if not self.lease_duration > self.renew_deadline > self.retry_period > 0:
            raise ValueError(
                "leader election needs lease duration > renew deadline > retry period > 0, got "
                f"{self.lease_duration} / {self.renew_deadline} / {self.retry_period}"
            )


class LeaderElector:
    """Acquires, renews and releases one Lease; ``run`` returns when leadership is lost."""

    def __init__(
        self, client: LeaseClient, config: LeaseConfig, clock: Clock, metrics: Metrics | None = None
    ) -> None:
        self._client = client
        self._config = config
        self._clock = clock
        self._metrics = metrics
        self._observed: Mapping[str, Any] | None = None
        self._observed_at = 0.0
        self._lease: Manifest | None = None
        self.is_leader = False
        self.elected = asyncio.Event()
        self._lock = asyncio.Lock()
        """One attempt or release at a time: a release waits for a renewal in flight, so it writes
        over the Lease as that renewal left it instead of failing on a stale resourceVersion."""
        self._released = False
        """Released on shutdown: later attempts (the renew loop may still be running) must not take
        the Lease back."""

    @property
    def identity(self) -> str:
        return self._config.identity

    async def run(self) -> None:
        """Campaign until elected, then renew until a renewal deadline is missed."""
        while not await self.try_acquire_or_renew():
            await self._clock.sleep(self._config.retry_period)
        self._set_leader(True)
        log.info("acquired lease", extra={"lease": self._config.name, "identity": self.identity})
        last_renew = self._clock.monotonic()
        while True:
            await self._clock.sleep(self._config.retry_period)
            if await self.try_acquire_or_renew():
                last_renew = self._clock.monotonic()
            elif self._clock.monotonic() - last_renew >= self._config.renew_deadline:
                self._set_leader(False)
                log.error("lost lease: renew deadline exceeded", extra={"lease": self._config.name})
                return

    async def try_acquire_or_renew(self) -> bool:
        """One attempt; True if we hold the Lease afterwards. API failures count as a failed attempt."""
        async with self._lock:
            if self._released:
                return False
            try:
                return await self._attempt()
            except ApiError as e:
                log.warning("lease attempt failed", extra={"lease": self._config.name, "error": str(e)})
                return False

    async def _attempt(self) -> bool:
        now = format_micro_time(self._clock.now())
        try:
            lease = await self._client.get(LEASES, self._config.name, self._config.namespace)
        except NotFound:
            created = await self._client.create(LEASES, self._new_lease(now))
            self._observe(created)
            return True
        spec = lease.get("spec") or {}
        self._observe(lease)
        holder = spec.get("holderIdentity") or ""
        expired = self._clock.monotonic() - self._observed_at >= self._lease_seconds(spec)
        if holder and holder != self.identity and not expired:
            return False
        new_spec = dict(spec)
        new_spec.update(
            holderIdentity=self.identity,
            leaseDurationSeconds=math.ceil(self._config.lease_duration),
            renewTime=now,
        )
        if holder != self.identity:
            new_spec["acquireTime"] = now
            new_spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + (1 if holder else 0)
        updated = await self._client.replace(LEASES, {**lease, "spec": new_spec})
        self._observe(updated)
        return True

    async def release(self) -> None:
        """Give the Lease up (clear holderIdentity) if we hold it, and campaign no more; failures are
        logged, not raised."""
        async with self._lock:
            self._released = True
            if not self.is_leader or self._lease is None:
                return
            self._set_leader(False)
            spec = dict(self._lease.get("spec") or {})
            now = format_micro_time(self._clock.now())
            spec.update(holderIdentity="", leaseDurationSeconds=1, renewTime=now)
            try:
                await self._client.replace(LEASES, {**self._lease, "spec": spec})
            except ApiError as e:
                log.warning("could not release lease", extra={"lease": self._config.name, "error": str(e)})
            else:
                log.info("released lease", extra={"lease": self._config.name})

    def _lease_seconds(self, spec: Mapping[str, Any]) -> float:
        return float(spec.get("leaseDurationSeconds") or self._config.lease_duration)

    def _observe(self, lease: Manifest) -> None:
        """Remember the record; expiry counts from the moment it last changed, on our clock."""
        record = lease.get("spec") or {}
        if record != self._observed:
            self._observed = record
            self._observed_at = self._clock.monotonic()
        self._lease = lease

    def _new_lease(self, now: str) -> Manifest:
        return {
            "apiVersion": LEASES.api_version,
            "kind": "Lease",
            "metadata": {"name": self._config.name, "namespace": self._config.namespace},
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": math.ceil(self._config.lease_duration),
                "acquireTime": now,
                "renewTime": now,
                "leaseTransitions": 0,
            },
        }

    def _set_leader(self, leading: bool) -> None:
        self.is_leader = leading
        if leading:
            self.elected.set()
        if self._metrics is not None:
            self._metrics.leader.labels(self._config.name).set(1 if leading else 0)
