"""The API client against the local API server: verbs, typed errors, watches, throttling, config."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from pathlib import Path
from typing import Any

import pytest
import yaml

from localcluster.cluster import LocalCluster
from localcluster.crds import third_party_crds
from reconciler.discovery import RestMapper
from reconciler.errors import (
    AlreadyExists,
    ApiError,
    Conflict,
    Gone,
    Invalid,
    NotFound,
    ServerError,
    TooManyRequests,
    TransportError,
)
from reconciler.kube import Client, ClientConfig, load_config
from reconciler.metrics import Metrics
from tests.reconciler.fakeclock import ManualClock
from tests.reconciler.harness import CONFIGMAPS, NAMESPACE, wait_for


def _cm(name: str = "c", **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "data": data,
    }


async def test_create_get_replace_patch_delete_round_trip(kube: Client) -> None:
    created = await kube.create(CONFIGMAPS, _cm(a="1"))
    assert created["metadata"]["uid"]
    fetched = await kube.get(CONFIGMAPS, "c", NAMESPACE)
    assert fetched["data"] == {"a": "1"}
    replaced = await kube.replace(CONFIGMAPS, {**fetched, "data": {"a": "2"}})
    patched = await kube.patch(CONFIGMAPS, "c", {"data": {"b": "3"}}, NAMESPACE)
    assert patched["data"] == {"a": "2", "b": "3"}
    assert int(patched["metadata"]["resourceVersion"]) > int(replaced["metadata"]["resourceVersion"])
    listed = await kube.list(CONFIGMAPS, NAMESPACE)
    assert [i["metadata"]["name"] for i in listed["items"]] == ["c"]
    await kube.delete(CONFIGMAPS, "c", NAMESPACE, uid=created["metadata"]["uid"])
    with pytest.raises(NotFound):
        await kube.get(CONFIGMAPS, "c", NAMESPACE)


async def _stale_replace(kube: Client) -> None:
    first = await kube.create(CONFIGMAPS, _cm())
    await kube.patch(CONFIGMAPS, "c", {"data": {"x": "1"}}, NAMESPACE)
    await kube.replace(CONFIGMAPS, first)


async def _duplicate(kube: Client) -> None:
    await kube.create(CONFIGMAPS, _cm())
    await kube.create(CONFIGMAPS, _cm())


async def _invalid(kube: Client) -> None:
    await kube.create(CONFIGMAPS, _cm("Not_A_Name"))


async def _wrong_uid(kube: Client) -> None:
    await kube.create(CONFIGMAPS, _cm())
    await kube.delete(CONFIGMAPS, "c", NAMESPACE, uid="not-this-one")


@pytest.mark.parametrize(
    ("action", "error", "status"),
    [
        (lambda k: k.get(CONFIGMAPS, "missing", NAMESPACE), NotFound, 404),
        (_duplicate, AlreadyExists, 409),
        (_stale_replace, Conflict, 409),
        (_invalid, Invalid, 422),
        (_wrong_uid, Conflict, 409),
    ],
    ids=["not-found", "already-exists", "stale-resource-version", "invalid-name", "uid-precondition"],
)
async def test_failures_become_typed_errors(
    kube: Client, action: Callable[[Client], Awaitable[Any]], error: type[ApiError], status: int
) -> None:
    with pytest.raises(error) as caught:
        await action(kube)
    assert type(caught.value) is error
    assert caught.value.status == status
    assert not caught.value.retryable


async def test_server_errors_and_throttling_are_retryable_with_retry_after(
    cluster: LocalCluster, kube: Client
) -> None:
    cluster.faults.fail_next("get", "configmaps", code=429, retry_after=3)
    with pytest.raises(TooManyRequests) as throttled:
        await kube.get(CONFIGMAPS, "c", NAMESPACE)
    assert (throttled.value.retryable, throttled.value.retry_after) == (True, 3.0)
    cluster.faults.fail_next("get", "configmaps", code=500)
    with pytest.raises(ServerError) as failed:
        await kube.get(CONFIGMAPS, "c", NAMESPACE)
    assert failed.value.retryable


async def test_an_unreachable_server_is_a_transport_error() -> None:
    async with LocalCluster() as gone:
        url = gone.url
    async with Client(ClientConfig(host=url, timeout=2)) as client:
        with pytest.raises(TransportError) as caught:
            await client.get(CONFIGMAPS, "c", NAMESPACE)
    assert (caught.value.status, caught.value.retryable) == (0, True)
    assert client.requests == {("get", 0): 1}


async def test_requests_are_counted_by_verb_and_code(cluster: LocalCluster) -> None:
    metrics = Metrics()
    async with Client(ClientConfig(host=cluster.url), metrics=metrics) as client:
        await client.create(CONFIGMAPS, _cm())
        await client.get(CONFIGMAPS, "c", NAMESPACE)
        with pytest.raises(NotFound):
            await client.get(CONFIGMAPS, "d", NAMESPACE)
        assert client.requests == {("create", 201): 1, ("get", 200): 1, ("get", 404): 1}
        assert (client.writes(), client.reads()) == (1, 2)
    sample = metrics.registry.get_sample_value
    assert sample("rest_client_requests_total", {"code": "404", "method": "GET"}) == 1
    assert sample("rest_client_requests_total", {"code": "201", "method": "POST"}) == 1


async def test_the_token_bucket_holds_requests_beyond_the_burst(cluster: LocalCluster) -> None:
    clock = ManualClock()
    async with Client(ClientConfig(host=cluster.url, qps=2, burst=3), clock=clock) as client:
        for _ in range(3):
            with pytest.raises(NotFound):
                await client.get(CONFIGMAPS, "c", NAMESPACE)
        fourth = asyncio.ensure_future(client.get(CONFIGMAPS, "c", NAMESPACE))
        await wait_for(lambda: clock.pending_timers == 1, message="the fourth request waiting")
        assert not fourth.done()
        clock.advance(0.5)
        with pytest.raises(NotFound):
            async with asyncio.timeout(5):
                await fourth
        assert client.reads() == 4


async def _events(stream: AsyncIterator[tuple[str, dict[str, Any]]], count: int) -> list[tuple[str, str]]:
    seen = []
    async for kind, obj in stream:
        seen.append((kind, obj["metadata"].get("name", "")))
        if len(seen) == count:
            break
    return seen


async def test_watch_streams_changes_from_a_resource_version(kube: Client) -> None:
    start = (await kube.list(CONFIGMAPS, NAMESPACE))["metadata"]["resourceVersion"]
    await kube.create(CONFIGMAPS, _cm("a"))
    await kube.patch(CONFIGMAPS, "a", {"data": {"k": "v"}}, NAMESPACE)
    await kube.delete(CONFIGMAPS, "a", NAMESPACE)
    async with aclosing(
        kube.watch(CONFIGMAPS, NAMESPACE, resource_version=start, timeout_seconds=5)
    ) as stream:
        async with asyncio.timeout(5):
            assert await _events(stream, 3) == [("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a")]


async def test_an_expired_watch_raises_gone(cluster: LocalCluster, kube: Client) -> None:
    cluster.faults.expire_next_watches(1)
    with pytest.raises(Gone):
        async with aclosing(kube.watch(CONFIGMAPS, NAMESPACE, resource_version="1")) as stream:
            async with asyncio.timeout(5):
                await _events(stream, 1)


async def test_discovery_maps_kinds_and_notices_a_new_crd(bare_cluster: LocalCluster) -> None:
    async with Client(ClientConfig(host=bare_cluster.url)) as client:
        mapper = RestMapper(client)
        groups = ["v1", "apps/v1", "rbac.authorization.k8s.io/v1", "monitoring.coreos.com/v1"]
        await mapper.refresh(groups)
        deployments = mapper.resource("apps/v1", "Deployment")
        assert (deployments.plural, deployments.namespaced) == ("deployments", True)
        assert mapper.resource("rbac.authorization.k8s.io/v1", "ClusterRole").namespaced is False
        assert mapper.find("v1", "Pod/status") is None
        assert not mapper.served("monitoring.coreos.com/v1", "PodMonitor")
        for crd in third_party_crds():
            await bare_cluster.install_crd(crd)
        await mapper.refresh(groups)
        assert mapper.resource("monitoring.coreos.com/v1", "PodMonitor").plural == "podmonitors"


def test_a_kubeconfig_gives_host_token_and_tls(tmp_path: Path) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "c", "cluster": {"server": "https://k8s.example:6443", "insecure-skip-tls-verify": True}}
        ],
        "users": [{"name": "u", "user": {"token": "secret-token"}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    loaded = load_config(str(path))
    assert loaded.host == "https://k8s.example:6443"
    assert loaded.token is not None and loaded.token() == "Bearer secret-token"
    assert loaded.ssl_context is not None and loaded.ssl_context.verify_mode == ssl.CERT_NONE


async def test_a_plain_http_kubeconfig_reaches_the_local_cluster(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    path = cluster.write_kubeconfig(tmp_path / "kubeconfig")
    loaded = load_config(str(path))
    assert (loaded.host, loaded.ssl_context) == (cluster.url, None)
    async with Client(loaded) as client:
        namespaces = await client.get_path("/api/v1/namespaces")
    assert NAMESPACE in [n["metadata"]["name"] for n in namespaces["items"]]
