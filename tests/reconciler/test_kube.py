"""The API client against the real API server: verbs, typed errors, watches, throttling, config."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.runtime.client import Client, ClientConfig, load_config
from reconciler.runtime.discovery import RestMapper
from reconciler.runtime.errors import (
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
from reconciler.runtime.metrics import Metrics
from testbed.controlplane import free_port
from tests.reconciler.fakeclock import ManualClock
from tests.reconciler.harness import CONFIGMAPS, wait_for
from tests.support.cluster import Cluster, upstream_crds

ROOT_CA = "kube-root-ca.crt"
"""The ConfigMap the controller-manager publishes in every namespace."""


def _cm(namespace: str, name: str = "c", **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": data,
    }


async def test_create_get_replace_patch_delete_round_trip(cluster: Cluster, kube: Client) -> None:
    ns = cluster.namespace
    created = await kube.create(CONFIGMAPS, _cm(ns, a="1"))
    assert created["metadata"]["uid"]
    fetched = await kube.get(CONFIGMAPS, "c", ns)
    assert fetched["data"] == {"a": "1"}
    replaced = await kube.replace(CONFIGMAPS, {**fetched, "data": {"a": "2"}})
    patched = await kube.patch(CONFIGMAPS, "c", {"data": {"b": "3"}}, ns)
    assert patched["data"] == {"a": "2", "b": "3"}
    assert int(patched["metadata"]["resourceVersion"]) > int(replaced["metadata"]["resourceVersion"])
    listed = await kube.list(CONFIGMAPS, ns)
    assert [i["metadata"]["name"] for i in listed["items"] if i["metadata"]["name"] != ROOT_CA] == ["c"]
    await kube.delete(CONFIGMAPS, "c", ns, uid=created["metadata"]["uid"])
    with pytest.raises(NotFound):
        await kube.get(CONFIGMAPS, "c", ns)


async def _missing(kube: Client, ns: str) -> None:
    await kube.get(CONFIGMAPS, "missing", ns)


async def _stale_replace(kube: Client, ns: str) -> None:
    first = await kube.create(CONFIGMAPS, _cm(ns))
    await kube.patch(CONFIGMAPS, "c", {"data": {"x": "1"}}, ns)
    await kube.replace(CONFIGMAPS, first)


async def _duplicate(kube: Client, ns: str) -> None:
    await kube.create(CONFIGMAPS, _cm(ns))
    await kube.create(CONFIGMAPS, _cm(ns))


async def _invalid(kube: Client, ns: str) -> None:
    await kube.create(CONFIGMAPS, _cm(ns, "Not_A_Name"))


async def _wrong_uid(kube: Client, ns: str) -> None:
    await kube.create(CONFIGMAPS, _cm(ns))
    await kube.delete(CONFIGMAPS, "c", ns, uid="not-this-one")


@pytest.mark.parametrize(
    ("action", "error", "status"),
    [
        (_missing, NotFound, 404),
        (_duplicate, AlreadyExists, 409),
        (_stale_replace, Conflict, 409),
        (_invalid, Invalid, 422),
        (_wrong_uid, Conflict, 409),
    ],
    ids=["not-found", "already-exists", "stale-resource-version", "invalid-name", "uid-precondition"],
)
async def test_failures_become_typed_errors(
    cluster: Cluster,
    kube: Client,
    action: Callable[[Client, str], Awaitable[Any]],
    error: type[ApiError],
    status: int,
) -> None:
    with pytest.raises(error) as caught:
        await action(kube, cluster.namespace)
    assert type(caught.value) is error
    assert caught.value.status == status
    assert not caught.value.retryable


async def test_server_errors_and_throttling_are_retryable_with_retry_after(cluster: Cluster) -> None:
    async with Client(cluster.client_config()) as client:
        cluster.faults.fail_next("get", "configmaps", code=429, retry_after=3)
        with pytest.raises(TooManyRequests) as throttled:
            await client.get(CONFIGMAPS, "c", cluster.namespace)
        assert (throttled.value.retryable, throttled.value.retry_after) == (True, 3.0)
        cluster.faults.fail_next("get", "configmaps", code=500)
        with pytest.raises(ServerError) as failed:
            await client.get(CONFIGMAPS, "c", cluster.namespace)
        assert failed.value.retryable


async def test_an_unreachable_server_is_a_transport_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    async with Client(ClientConfig(host=url, timeout=2)) as client:
        with pytest.raises(TransportError) as caught:
            await client.get(CONFIGMAPS, "c", "default")
    assert (caught.value.status, caught.value.retryable) == (0, True)
    assert client.requests == {("get", 0): 1}


async def test_requests_are_counted_by_verb_and_code(cluster: Cluster) -> None:
    ns = cluster.namespace
    metrics = Metrics()
    async with Client(cluster.client_config(), metrics=metrics) as client:
        await client.create(CONFIGMAPS, _cm(ns))
        await client.get(CONFIGMAPS, "c", ns)
        with pytest.raises(NotFound):
            await client.get(CONFIGMAPS, "d", ns)
        assert client.requests == {("create", 201): 1, ("get", 200): 1, ("get", 404): 1}
        assert (client.writes(), client.reads()) == (1, 2)
    sample = metrics.registry.get_sample_value
    assert sample("rest_client_requests_total", {"code": "404", "method": "GET"}) == 1
    assert sample("rest_client_requests_total", {"code": "201", "method": "POST"}) == 1


async def test_the_token_bucket_holds_requests_beyond_the_burst(cluster: Cluster) -> None:
    ns = cluster.namespace
    clock = ManualClock()
    async with Client(cluster.client_config(qps=2, burst=3), clock=clock) as client:
        for _ in range(3):
            with pytest.raises(NotFound):
                await client.get(CONFIGMAPS, "c", ns)
        fourth = asyncio.ensure_future(client.get(CONFIGMAPS, "c", ns))
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
        if kind == "BOOKMARK":
            continue  # the server sends these on its own schedule; they name no object
        seen.append((kind, obj["metadata"].get("name", "")))
        if len(seen) == count:
            break
    return seen


async def test_watch_streams_changes_from_a_resource_version(cluster: Cluster, kube: Client) -> None:
    ns = cluster.namespace
    # The controller-manager publishes the root CA ConfigMap in every new namespace; once it is
    # there, the changes below are the only ones in the namespace.
    await wait_for(lambda: cluster.get("v1", "ConfigMap", ROOT_CA), 30, "the root CA ConfigMap")
    start = (await kube.list(CONFIGMAPS, ns))["metadata"]["resourceVersion"]
    await kube.create(CONFIGMAPS, _cm(ns, "a"))
    await kube.patch(CONFIGMAPS, "a", {"data": {"k": "v"}}, ns)
    await kube.delete(CONFIGMAPS, "a", ns)
    async with aclosing(kube.watch(CONFIGMAPS, ns, resource_version=start, timeout_seconds=5)) as stream:
        async with asyncio.timeout(5):
            assert await _events(stream, 3) == [("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a")]


async def test_an_expired_watch_raises_gone(cluster: Cluster) -> None:
    # The API server's watch cache still holds every event since it started, so even a watch from
    # resourceVersion 1 is served; the proxy answers as the server does once the cache has moved
    # past the version asked for: an ERROR event carrying 410 Expired.
    async with Client(cluster.client_config()) as client:
        cluster.faults.expire_next_watches(1)
        with pytest.raises(Gone):
            async with aclosing(client.watch(CONFIGMAPS, cluster.namespace, resource_version="1")) as stream:
                async with asyncio.timeout(5):
                    await _events(stream, 1)


async def test_discovery_maps_kinds_and_notices_a_new_crd(bare_cluster: Cluster, team_data_dir: Path) -> None:
    async with Client(bare_cluster.client_config()) as client:
        mapper = RestMapper(client)
        groups = ["v1", "apps/v1", "rbac.authorization.k8s.io/v1", "monitoring.coreos.com/v1"]
        await mapper.refresh(groups)
        deployments = mapper.resource("apps/v1", "Deployment")
        assert (deployments.plural, deployments.namespaced) == ("deployments", True)
        assert mapper.resource("rbac.authorization.k8s.io/v1", "ClusterRole").namespaced is False
        assert mapper.find("v1", "Pod/status") is None
        assert not mapper.served("monitoring.coreos.com/v1", "PodMonitor")
        for crd in upstream_crds(team_data_dir):
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


def _kubeconfig(path: Path, server: str, user: dict[str, str]) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server}}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }
    path.write_text(yaml.safe_dump(config))
    return path


async def test_a_plain_http_kubeconfig_reaches_the_cluster(cluster: Cluster, tmp_path: Path) -> None:
    # The API server itself serves only TLS; the fault proxy in front of it speaks plain HTTP.
    path = _kubeconfig(tmp_path / "kubeconfig", cluster.url, {"token": cluster.cp.admin_token})
    loaded = load_config(str(path))
    assert (loaded.host, loaded.ssl_context) == (cluster.url, None)
    async with Client(loaded) as client:
        namespaces = await client.get_path("/api/v1/namespaces")
    assert cluster.namespace in [n["metadata"]["name"] for n in namespaces["items"]]


async def test_a_tls_kubeconfig_with_a_client_certificate_reaches_the_api_server(cluster: Cluster) -> None:
    loaded = load_config(str(cluster.cp.kubeconfig))
    assert loaded.host == cluster.cp.url
    assert loaded.ssl_context is not None and loaded.ssl_context.verify_mode == ssl.CERT_REQUIRED
    async with Client(loaded) as client:
        namespaces = await client.get_path("/api/v1/namespaces")
    assert cluster.namespace in [n["metadata"]["name"] for n in namespaces["items"]]
