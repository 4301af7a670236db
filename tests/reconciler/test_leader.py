"""Leader election on a Lease: decisions driven by a manual clock, then real takeovers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest

from reconciler.manager import LeadershipLost
from reconciler.runtime.client import Client
from reconciler.runtime.leader import LEASES, LeaderElector, LeaseConfig
from tests.reconciler.fakeclock import ManualClock
from tests.reconciler.harness import Running, condition, get, model_service, running_reconciler, wait_for
from tests.support.cluster import Cluster

LEASE = "model-operator-leader-election"


def _config(namespace: str, identity: str, **timing: float) -> LeaseConfig:
    return LeaseConfig(name=LEASE, namespace=namespace, identity=identity, **timing)


@pytest.fixture
async def client(cluster: Cluster) -> AsyncIterator[Client]:
    """The candidates' client, through the fault proxy."""
    async with Client(cluster.client_config()) as c:
        yield c


async def _holder(client: Client, namespace: str) -> str:
    lease = await client.get(LEASES, LEASE, namespace)
    return str(lease["spec"].get("holderIdentity") or "")


async def test_the_first_candidate_creates_the_lease_and_a_second_waits_for_expiry(
    cluster: Cluster, client: Client
) -> None:
    ns = cluster.namespace
    clock = ManualClock()
    a = LeaderElector(client, _config(ns, "a"), clock)
    b = LeaderElector(client, _config(ns, "b"), clock)
    assert await a.try_acquire_or_renew()
    assert not await b.try_acquire_or_renew()
    clock.advance(14.9)
    assert not await b.try_acquire_or_renew(), "the lease is valid for 15 s after b first saw it"
    clock.advance(0.2)
    assert await b.try_acquire_or_renew(), "unchanged for the lease duration: expired"
    assert await _holder(client, ns) == "b"
    assert not await a.try_acquire_or_renew(), "the old leader sees b's fresh record"
    lease = await client.get(LEASES, LEASE, ns)
    assert lease["spec"]["leaseTransitions"] == 1
    assert lease["spec"]["leaseDurationSeconds"] == 15


async def test_renewals_keep_a_standby_out(cluster: Cluster, client: Client) -> None:
    ns = cluster.namespace
    clock = ManualClock()
    a = LeaderElector(client, _config(ns, "a"), clock)
    b = LeaderElector(client, _config(ns, "b"), clock)
    assert await a.try_acquire_or_renew()
    for _ in range(20):
        clock.advance(2.0)  # 40 s in all, well past one lease duration
        assert await a.try_acquire_or_renew()
        assert not await b.try_acquire_or_renew()
    assert await _holder(client, ns) == "a"


async def test_a_released_lease_is_taken_at_once(cluster: Cluster, client: Client) -> None:
    ns = cluster.namespace
    clock = ManualClock()
    a = LeaderElector(client, _config(ns, "a"), clock)
    b = LeaderElector(client, _config(ns, "b"), clock)
    assert await a.try_acquire_or_renew()
    assert not await b.try_acquire_or_renew()
    a.is_leader = True
    await a.release()
    assert await _holder(client, ns) == ""
    assert await b.try_acquire_or_renew(), "no need to wait for expiry"


async def test_the_leader_steps_down_when_it_cannot_renew_before_the_deadline(
    client: Client, cluster: Cluster
) -> None:
    clock = ManualClock()
    config = _config(cluster.namespace, "a", lease_duration=15, renew_deadline=10, retry_period=2)
    elector = LeaderElector(client, config, clock)
    running = asyncio.create_task(elector.run())
    await wait_for(lambda: elector.is_leader)
    cluster.faults.add(verbs={"update", "get"}, resource="leases", code=500)
    waited = 0.0
    while not running.done():
        await wait_for(lambda: clock.pending_timers == 1 or running.done(), message="the elector sleeping")
        if not running.done():
            clock.advance(2.0)
            waited += 2.0
        assert waited <= 20, "the leader kept going past its renew deadline"
    await running
    assert not elector.is_leader
    assert waited == 10.0, "it stepped down at the first failed attempt past the 10 s deadline"


async def test_a_release_waits_for_a_renewal_in_flight_and_stays_released(
    cluster: Cluster, client: Client
) -> None:
    clock = ManualClock()
    elector = LeaderElector(client, _config(cluster.namespace, "a"), clock)
    running = asyncio.create_task(elector.run())
    try:
        await wait_for(lambda: elector.is_leader and clock.pending_timers == 1, message="a renewing leader")
        slow_read = cluster.faults.add(verbs={"get"}, resource="leases", latency=0.5, times=1)
        clock.advance(2.0)
        await wait_for(lambda: slow_read.fired, message="the renewal's read in flight")
        await elector.release()  # as a graceful shutdown does, with the renew loop still running
        await wait_for(lambda: clock.pending_timers == 1, message="the renew loop idle again")
        assert await _holder(client, cluster.namespace) == "", "released, and not taken back"
        clock.advance(2.0)
        await wait_for(lambda: clock.pending_timers == 1, message="the next attempt")
        assert await _holder(client, cluster.namespace) == ""
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)


def test_timing_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="lease duration > renew deadline > retry period"):
        _config("default", "a", lease_duration=5, renew_deadline=10, retry_period=2)


FAST_LEASE = {"lease_duration": 1.0, "renew_deadline": 0.6, "retry_period": 0.1}


async def _replica(stack: AsyncExitStack, cluster: Cluster, identity: str) -> Running:
    lease = _config(cluster.namespace, identity, **FAST_LEASE)
    return await stack.enter_async_context(
        running_reconciler(cluster, leader_election=lease, wait_leading=False, instance=identity)
    )


async def test_exactly_one_replica_reconciles_and_a_standby_takes_over_a_dead_leader(
    cluster: Cluster,
) -> None:
    async with AsyncExitStack() as stack:
        first = await _replica(stack, cluster, "first")
        second = await _replica(stack, cluster, "second")
        replicas = [first, second]
        await wait_for(lambda: sum(r.manager.leading for r in replicas) == 1, message="one leader")
        leader = next(r for r in replicas if r.manager.leading)
        standby = next(r for r in replicas if not r.manager.leading)
        assert standby.manager.synced, "a standby keeps its caches warm"
        await cluster.create(model_service("one"))
        await wait_for(
            lambda: condition(get(cluster, "ModelService", "one"), "Ready").get("status") == "True"
        )
        assert standby.manager.controller.reconciles == 0

        leader.task.cancel()  # a crash: the lease is not released
        started = asyncio.get_running_loop().time()
        await wait_for(lambda: standby.manager.leading, 5, "the standby to take over")
        assert asyncio.get_running_loop().time() - started < 2.0
        await cluster.create(model_service("two"))
        await wait_for(
            lambda: condition(get(cluster, "ModelService", "two"), "Ready").get("status") == "True"
        )
        assert standby.manager.controller.reconciles > 0


async def test_a_graceful_stop_hands_the_lease_over_without_waiting(cluster: Cluster, client: Client) -> None:
    async with AsyncExitStack() as stack:
        first = await _replica(stack, cluster, "first")
        await wait_for(lambda: first.manager.leading)
        second = await _replica(stack, cluster, "second")
        first.manager.stop()
        async with asyncio.timeout(5):
            await first.task
        assert await _holder(client, cluster.namespace) in ("", "second")
        await wait_for(lambda: second.manager.leading, 2, "the standby to take over the released lease")


async def test_a_leader_that_cannot_renew_stops_its_manager(cluster: Cluster) -> None:
    async with AsyncExitStack() as stack:
        leader = await _replica(stack, cluster, "only")
        await wait_for(lambda: leader.manager.leading)
        cluster.faults.add(verbs={"get", "update"}, resource="leases", code=503)
        with pytest.raises(LeadershipLost):
            async with asyncio.timeout(5):
                await leader.task
        assert leader.manager.queue.shutting_down, "workers were stopped"
