"""Convergence through API faults: conflicts, server errors, throttling, cut and expired watches,
and an API server restart. Nothing written meanwhile is lost, and afterwards all is quiet."""

from __future__ import annotations

import asyncio

from localcluster.cluster import LocalCluster
from reconciler.errors import TransportError
from reconciler.kube import Client
from tests.reconciler.harness import (
    DEPLOYMENTS,
    NAMESPACE,
    Running,
    condition,
    get,
    model_service,
    running_reconciler,
    wait_for,
)


async def _down(kube: Client) -> bool:
    try:
        await kube.get_path("/api")
    except TransportError:
        return True
    return False


def _all_ready(cluster: LocalCluster, names: list[str]) -> bool:
    return all(condition(get(cluster, "ModelService", n), "Ready").get("status") == "True" for n in names)


async def _quiet(r: Running, *, rewatching: bool = False) -> None:
    """After convergence a resync makes no request.

    With ``rewatching``, informers may still be re-opening their watches with backoff after an API
    server restart; a watch being re-established is the informer's, not a request of a reconcile.
    """
    await r.idle(10)
    r.mark()
    await r.resync(10)
    made = r.since_mark()
    if rewatching:
        made = {k: v for k, v in made.items() if k[0] != "watch"}
    assert made == {}, "after convergence a resync makes no request"


async def test_conflicts_server_errors_and_throttling_do_not_stop_convergence(cluster: LocalCluster) -> None:
    faults = cluster.faults
    faults.add(verbs={"create", "update"}, code=409, rate=0.15)
    faults.add(verbs={"create", "update", "patch", "delete"}, code=500, rate=0.15)
    faults.add(verbs={"create"}, code=429, rate=0.05, retry_after=1)
    names = [f"m{i}" for i in range(5)]
    async with running_reconciler(cluster) as r:
        for name in names:
            await cluster.create(model_service(name))
        await wait_for(lambda: _all_ready(cluster, names), 30, "every ModelService Ready despite faults")
        assert sum(rule.fired for rule in faults.rules) > 0, "faults were injected"
        errors = r.manager.metrics.registry.get_sample_value(
            "controller_runtime_reconcile_errors_total", {"controller": "modelservice"}
        )
        assert errors and errors > 0
        faults.clear()
        await wait_for(lambda: _all_ready(cluster, names), 10)
        await _quiet(r)


async def test_cut_and_expired_watches_and_a_restart_lose_no_change(
    cluster: LocalCluster, kube: Client
) -> None:
    async with running_reconciler(cluster) as r:
        await cluster.create(model_service("a"))
        await wait_for(lambda: _all_ready(cluster, ["a"]))
        lists = sum(i.lists for i in r.manager.cache.informers())

        cluster.close_watches()
        await cluster.create(model_service("b"))
        await wait_for(lambda: _all_ready(cluster, ["a", "b"]), message="after cut watches")

        cluster.faults.expire_next_watches(count=len(r.manager.cache.informers()))
        cluster.close_watches()
        await kube.delete(DEPLOYMENTS, "a-decode", NAMESPACE)
        await wait_for(
            lambda: cluster.get("apps/v1", "Deployment", "a-decode", NAMESPACE), message="a-decode back"
        )
        await wait_for(
            lambda: sum(i.lists for i in r.manager.cache.informers()) > lists, message="a relist on 410"
        )

        restarting = asyncio.create_task(cluster.restart(downtime=0.5))
        await wait_for(lambda: _down(kube), message="the API server down")
        await cluster.create(model_service("c"))  # written while nothing can watch
        await restarting
        await wait_for(lambda: _all_ready(cluster, ["a", "b", "c"]), 15, message="after the restart")
        await _quiet(r, rewatching=True)
