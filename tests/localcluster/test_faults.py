"""Fault injection: injected errors, latency, cut and expired watches, restarts, the HTTP control API."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from kubernetes.aio.client.exceptions import ApiException

from localcluster import LocalCluster
from localcluster.testing import raw_watch
from tests.localcluster.conftest import configmap, status_of

Manifest = dict[str, Any]
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


@pytest.mark.parametrize(
    ("code", "reason"),
    [(500, "InternalError"), (503, "ServiceUnavailable"), (409, "Conflict")],
    ids=["500", "503", "409"],
)
async def test_next_request_fails_with_the_injected_status(
    local_cluster: LocalCluster, core: Any, code: int, reason: str
) -> None:
    local_cluster.faults.fail_next("create", "configmaps", code=code)
    with pytest.raises(ApiException) as info:
        await core.create_namespaced_config_map("default", configmap("a"))
    assert (info.value.status, status_of(info.value)["reason"]) == (code, reason)
    created = await core.create_namespaced_config_map("default", configmap("a"))
    assert created.metadata.name == "a"


async def test_429_carries_retry_after(local_cluster: LocalCluster) -> None:
    local_cluster.faults.fail_next("list", "configmaps", code=429, retry_after=7)
    async with aiohttp.ClientSession() as http, http.get(local_cluster.url + CONFIGMAPS) as resp:
        body = await resp.json()
    assert (resp.status, resp.headers["Retry-After"], body["details"]["retryAfterSeconds"]) == (429, "7", 7)


async def test_rules_match_verb_resource_and_count(local_cluster: LocalCluster, core: Any) -> None:
    local_cluster.faults.fail_next("get", "configmaps", code=500, times=2)
    await core.create_namespaced_config_map("default", configmap("a"))
    outcomes = []
    for _ in range(3):
        try:
            await core.read_namespaced_config_map("a", "default")
            outcomes.append("ok")
        except ApiException as exc:
            outcomes.append(str(exc.status))
    assert outcomes == ["500", "500", "ok"]


async def test_latency_delays_matching_requests(local_cluster: LocalCluster, core: Any) -> None:
    local_cluster.faults.add(verbs={"list"}, resource="configmaps", latency=0.2, times=1)
    loop = asyncio.get_running_loop()
    start = loop.time()
    await core.list_namespaced_config_map("default")
    assert loop.time() - start >= 0.2


async def outcomes_with_seed(factory: Any, seed: int) -> list[int]:
    cluster: LocalCluster = await factory(seed=seed)
    cluster.faults.add(verbs={"list"}, code=500, rate=0.5)
    codes = []
    async with aiohttp.ClientSession() as http:
        for _ in range(16):
            async with http.get(cluster.url + CONFIGMAPS) as resp:
                codes.append(resp.status)
    return codes


async def test_random_faults_are_repeatable_with_the_same_seed(local_cluster_factory: Any) -> None:
    first = await outcomes_with_seed(local_cluster_factory, 7)
    second = await outcomes_with_seed(local_cluster_factory, 7)
    assert first == second and set(first) == {200, 500}


async def test_close_watches_cuts_open_streams(local_cluster: LocalCluster) -> None:
    async with raw_watch(local_cluster, f"{CONFIGMAPS}?watch=1&resourceVersion=1") as w:
        assert local_cluster.faults.close_watches() == 1
        assert await w.rest() == []


async def test_watch_can_be_closed_after_n_events(local_cluster: LocalCluster) -> None:
    local_cluster.faults.add(verbs={"watch"}, close_watch_after=2, times=1)
    for name in ("a", "b", "c"):
        await local_cluster.create(configmap(name))
    async with raw_watch(local_cluster, f"{CONFIGMAPS}?watch=1") as w:
        events = await w.rest()
    assert [e["object"]["metadata"]["name"] for e in events] == ["a", "b"]


async def test_next_watch_can_be_forced_to_410(local_cluster: LocalCluster) -> None:
    local_cluster.faults.expire_next_watches(1)
    rv = local_cluster.store.resource_version
    async with raw_watch(local_cluster, f"{CONFIGMAPS}?watch=1&resourceVersion={rv}") as w:
        (event,) = await w.rest()
    assert (event["type"], event["object"]["code"], event["object"]["reason"]) == ("ERROR", 410, "Expired")
    async with raw_watch(local_cluster, f"{CONFIGMAPS}?watch=1&resourceVersion={rv}") as w:
        created = await local_cluster.create(configmap("after"))
        assert (await w.next())["object"] == created


async def test_restart_keeps_objects_and_port_and_cuts_watches(
    local_cluster: LocalCluster, core: Any
) -> None:
    await core.create_namespaced_config_map("default", configmap("kept"))
    port = local_cluster.port
    async with raw_watch(local_cluster, f"{CONFIGMAPS}?watch=1&resourceVersion=1") as w:
        await w.next()
        await local_cluster.restart()
        with pytest.raises((EOFError, aiohttp.ClientPayloadError)):
            while True:
                await w.next()
    assert local_cluster.port == port
    async with aiohttp.ClientSession() as http, http.get(f"{local_cluster.url}{CONFIGMAPS}/kept") as resp:
        assert resp.status == 200
    rv = local_cluster.store.resource_version
    async with raw_watch(local_cluster, f"{CONFIGMAPS}?watch=1&resourceVersion={rv}") as w:
        created = await local_cluster.create(configmap("new"))
        assert (await w.next())["object"] == created


async def test_http_control_endpoint_manages_faults(local_cluster: LocalCluster) -> None:
    base = local_cluster.url + "/_localcluster"
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{base}/faults", json={"verbs": ["list"], "resource": "configmaps", "code": 503, "times": 1}
        ) as resp:
            assert resp.status == 201
            rule = (await resp.json())["rule"]
        async with http.get(f"{base}/faults") as resp:
            assert [r["id"] for r in (await resp.json())["rules"]] == [rule["id"]]
        async with http.get(local_cluster.url + CONFIGMAPS) as resp:
            assert resp.status == 503
        async with http.post(f"{base}/faults", json={"verbs": ["list"], "code": 500}) as resp:
            assert resp.status == 201
        async with http.delete(f"{base}/faults") as resp:
            assert (await resp.json())["rules"] == []
        async with http.get(local_cluster.url + CONFIGMAPS) as resp:
            assert resp.status == 200
        async with http.post(f"{base}/faults", json={"verbs": ["fly"]}) as resp:
            assert resp.status == 400


async def test_http_control_endpoint_cuts_watches_and_restarts(local_cluster: LocalCluster) -> None:
    base = local_cluster.url + "/_localcluster"
    async with raw_watch(local_cluster, f"{CONFIGMAPS}?watch=1&resourceVersion=1") as w:
        async with aiohttp.ClientSession() as http, http.post(f"{base}/watches/close") as resp:
            assert (await resp.json()) == {"closed": 1}
        assert await w.rest() == []
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}/restart", json={"downtimeSeconds": 0.1}) as resp:
            assert resp.status == 202
        async with asyncio.timeout(5):
            await local_cluster.wait_restarts()
        async with http.get(local_cluster.url + "/healthz") as resp:
            assert resp.status == 200
