"""Convergence through API faults: conflicts, server errors, throttling, cut and expired watches,
and an API server restart. Nothing written meanwhile is lost, and afterwards all is quiet."""

from __future__ import annotations

import asyncio

from reconciler.runtime.client import Client
from tests.reconciler.harness import (
    DEPLOYMENTS,
    Running,
    condition,
    get,
    model_service,
    running_reconciler,
    wait_for,
)
from tests.support.cluster import Cluster

READY_TIMEOUT = 60.0
"""Ready needs real pods (scheduled, then made ready by the fake kubelets), here behind faults."""


def _all_ready(cluster: Cluster, names: list[str]) -> bool:
    return all(condition(get(cluster, "ModelService", n), "Ready").get("status") == "True" for n in names)


def _lists(r: Running) -> int:
    return sum(i.lists for i in r.manager.cache.informers())


async def _quiet(r: Running, *, rewatching: bool = False) -> None:
    """After convergence a resync makes no request.

    With ``rewatching``, informers may still be re-opening their watches with backoff after an API
    server restart; a watch being re-established, and the relist when the restarted server answers
    it with 410, are the informer's, not requests of a reconcile.
    """
    await r.idle(10)
    lists = _lists(r)
    r.mark()
    await r.resync(10)
    made = r.since_mark()
    if rewatching:
        made = {k: v for k, v in made.items() if k[0] != "watch"}
        made[("list", 200)] = made.get(("list", 200), 0) - (_lists(r) - lists)
        # A relist that began before the mark is counted by the informer but not in `made`.
        made = {k: v for k, v in made.items() if v > 0}
    assert made == {}, "after convergence a resync makes no request"


async def test_conflicts_server_errors_and_throttling_do_not_stop_convergence(cluster: Cluster) -> None:
    faults = cluster.faults
    faults.add(verbs={"create", "update", "patch"}, code=409, rate=0.15)
    faults.add(verbs={"create", "update", "patch", "delete"}, code=500, rate=0.15)
    faults.add(verbs={"create", "patch"}, code=429, rate=0.05, retry_after=1)
    names = [f"m{i}" for i in range(5)]
    async with running_reconciler(cluster) as r:
        for name in names:
            await cluster.create(model_service(name))
        await wait_for(
            lambda: _all_ready(cluster, names), READY_TIMEOUT, "every ModelService Ready despite faults"
        )
        assert sum(rule.fired for rule in faults.rules) > 0, "faults were injected"
        errors = r.manager.metrics.registry.get_sample_value(
            "controller_runtime_reconcile_errors_total", {"controller": "modelservice"}
        )
        assert errors and errors > 0
        faults.clear()
        await wait_for(lambda: _all_ready(cluster, names), 10)
        await _quiet(r)


async def test_cut_and_expired_watches_and_a_restart_lose_no_change(cluster: Cluster, kube: Client) -> None:
    async with running_reconciler(cluster) as r:
        await cluster.create(model_service("a"))
        await wait_for(lambda: _all_ready(cluster, ["a"]), READY_TIMEOUT)
        lists = _lists(r)

        cluster.close_watches()
        await cluster.create(model_service("b"))
        await wait_for(lambda: _all_ready(cluster, ["a", "b"]), READY_TIMEOUT, "after cut watches")

        cluster.faults.expire_next_watches(count=len(r.manager.cache.informers()))
        cluster.close_watches()
        await kube.delete(DEPLOYMENTS, "a-decode", cluster.namespace)
        await wait_for(lambda: cluster.get("apps/v1", "Deployment", "a-decode"), 15, "a-decode back")
        await wait_for(lambda: _lists(r) > lists, message="a relist on 410")

        # The restart (after SIGKILL): the reconciler may not watch until it is over and "c" is
        # written, so "c" reaches it only through resuming or relisting. The store is compacted
        # first, and the restarted API server's watch cache begins at the current revision:
        # resuming from an older resourceVersion gets a real 410.
        lists = _lists(r)
        cluster.faults.clear()  # an expiry left unused must not pass for the real one
        blind = cluster.faults.add(verbs={"watch"}, code=503)
        cluster.close_watches()
        await asyncio.to_thread(cluster.cp.compact_etcd)
        await cluster.restart(kill=True)  # a crash: no drain of requests in flight
        await cluster.create(model_service("c"))  # written while nothing can watch
        cluster.faults.remove(blind)
        await wait_for(lambda: _all_ready(cluster, ["a", "b", "c"]), READY_TIMEOUT, "after the restart")
        await wait_for(lambda: _lists(r) > lists, message="a relist on the real 410")
        await _quiet(r, rewatching=True)
