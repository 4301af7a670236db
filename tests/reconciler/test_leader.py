"""Leader election on a Lease: decisions driven by a manual clock, then real takeovers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest

from localcluster.cluster import LocalCluster
from reconciler.kube import Client, ClientConfig
from reconciler.leader import LEASES, LeaderElector, LeaseConfig
from reconciler.manager import LeadershipLost
from tests.reconciler.fakeclock import ManualClock
from tests.reconciler.harness import Running, condition, get, model_service, running_reconciler, wait_for

LEASE = "model-operator-leader-election"


def _config(identity: str, **timing: float) -> LeaseConfig:
    return LeaseConfig(name=LEASE, namespace="default", identity=identity, **timing)


@pytest.fixture
async def client(cluster: LocalCluster) -> AsyncIterator[Client]:
    async with Client(ClientConfig(host=cluster.url)) as c:
        yield c


async def _holder(client: Client) -> str:
    lease = await client.get(LEASES, LEASE, "default")
    return str(lease["spec"].get("holderIdentity") or "")


async def test_the_first_candidate_creates_the_lease_and_a_second_waits_for_expiry(client: Client) -> None:
    clock = ManualClock()
    a = LeaderElector(client, _config("a"), clock)
    b = LeaderElector(client, _config("b"), clock)
    assert await a.try_acquire_or_renew()
    assert not await b.try_acquire_or_renew()
    clock.advance(14.9)
    assert not await b.try_acquire_or_renew(), "the lease is valid for 15 s after b first saw it"
    clock.advance(0.2)
    assert await b.try_acquire_or_renew(), "unchanged for the lease duration: expired"
    assert await _holder(client) == "b"
    assert not await a.try_acquire_or_renew(), "the old leader sees b's fresh record"
    lease = await client.get(LEASES, LEASE, "default")
    assert lease["spec"]["leaseTransitions"] == 1
    assert lease["spec"]["leaseDurationSeconds"] == 15


async def test_renewals_keep_a_standby_out(client: Client) -> None:
    clock = ManualClock()
    a = LeaderElector(client, _config("a"), clock)
    b = LeaderElector(client, _config("b"), clock)
    assert await a.try_acquire_or_renew()
    for _ in range(20):
        clock.advance(2.0)  # 40 s in all, well past one lease duration
        assert await a.try_acquire_or_renew()
        assert not await b.try_acquire_or_renew()
    assert await _holder(client) == "a"


async def test_a_released_lease_is_taken_at_once(client: Client) -> None:
    clock = ManualClock()
    a = LeaderElector(client, _config("a"), clock)
    b = LeaderElector(client, _config("b"), clock)
    assert await a.try_acquire_or_renew()
    assert not await b.try_acquire_or_renew()
    a.is_leader = True
    await a.release()
    assert await _holder(client) == ""
    assert await b.try_acquire_or_renew(), "no need to wait for expiry"


async def test_the_leader_steps_down_when_it_cannot_renew_before_the_deadline(
    client: Client, cluster: LocalCluster
) -> None:
    clock = ManualClock()
    elector = LeaderElector(client, _config("a", lease_duration=15, renew_deadline=10, retry_period=2), clock)
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


def test_timing_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="lease duration > renew deadline > retry period"):
        _config("a", lease_duration=5, renew_deadline=10, retry_period=2)


FAST_LEASE = {"lease_duration": 1.0, "renew_deadline": 0.6, "retry_period": 0.1}


async def _replica(stack: AsyncExitStack, cluster: LocalCluster, identity: str) -> Running:
    lease = _config(identity, **FAST_LEASE)
    return await stack.enter_async_context(
        running_reconciler(cluster, leader_election=lease, wait_leading=False, instance=identity)
    )


async def test_exactly_one_replica_reconciles_and_a_standby_takes_over_a_dead_leader(
    cluster: LocalCluster,
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


async def test_a_graceful_stop_hands_the_lease_over_without_waiting(
    cluster: LocalCluster, client: Client
) -> None:
    async with AsyncExitStack() as stack:
        first = await _replica(stack, cluster, "first")
        await wait_for(lambda: first.manager.leading)
        second = await _replica(stack, cluster, "second")
        first.manager.stop()
        async with asyncio.timeout(5):
            await first.task
        assert await _holder(client) in ("", "second")
        await wait_for(lambda: second.manager.leading, 2, "the standby to take over the released lease")


async def test_a_leader_that_cannot_renew_stops_its_manager(cluster: LocalCluster) -> None:
    async with AsyncExitStack() as stack:
        leader = await _replica(stack, cluster, "only")
        await wait_for(lambda: leader.manager.leading)
        cluster.faults.add(verbs={"get", "update"}, resource="leases", code=503)
        with pytest.raises(LeadershipLost):
            async with asyncio.timeout(5):
                await leader.task
        assert leader.manager.queue.shutting_down, "workers were stopped"
