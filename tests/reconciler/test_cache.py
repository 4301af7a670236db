"""Informers and the cache against the real API server: lists, watches, relists, owner index."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from reconciler import watches
from reconciler.runtime.cache import Cache
from reconciler.runtime.client import Client
from reconciler.runtime.clock import SystemClock
from reconciler.watches import MODELSERVICE, owner_key
from shared import labels
from tests.reconciler.harness import (
    CLUSTERROLES,
    CONFIGMAPS,
    MODELSERVICES,
    model_service,
    wait_for,
)
from tests.support.cluster import Cluster

CM = ("v1", "ConfigMap")
CR = ("rbac.authorization.k8s.io/v1", "ClusterRole")
MANAGED = {labels.MANAGED_BY: labels.MANAGED_BY_VALUE}


def _cm(
    name: str,
    namespace: str,
    owner: str | None = None,
    extra: dict[str, str] | None = None,
    uid: str = "u",
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "labels": MANAGED | (extra or {})}
    if owner:
        ref = {"apiVersion": "model.otterscale.io/v1alpha1", "kind": "ModelService", "name": owner}
        meta["ownerReferences"] = [ref | {"uid": uid, "controller": True}]
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}


async def _owner(cluster: Cluster, name: str) -> str:
    """Create ModelService ``name`` (so garbage collection keeps its children); its uid."""
    created = await cluster.create(model_service(name))
    return str(created["metadata"]["uid"])


def _ours(cluster: Cluster, keys: list[str]) -> list[str]:
    """The enqueued keys of the test's namespace: a cluster-wide informer also sees the cluster-scoped
    children that reconcilers of other tests own."""
    return [k for k in keys if k.startswith(f"{cluster.namespace}/")]


@pytest.fixture
async def cache(cluster: Cluster) -> AsyncIterator[tuple[Cache, list[str]]]:
    """A cache of the test's namespace, listing and watching through the fault proxy."""
    keys: list[str] = []
    async with Client(cluster.client_config()) as client:
        cache = Cache(
            client,
            SystemClock(),
            keys.append,
            watches.relation,
            namespaces=(cluster.namespace,),
            page_size=2,
            watch_timeout=30,
        )
        try:
            yield cache, keys
        finally:
            await cache.stop()


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (_cm("a", "llm", owner="m"), "llm/m"),
        (_cm("a", "llm", extra={labels.OWNER_NAME: "m"}), "llm/m"),
        (
            {"metadata": {"name": "c", "labels": {labels.OWNER_NAME: "m", labels.OWNER_NAMESPACE: "x"}}},
            "x/m",
        ),
        (_cm("a", "llm"), None),
    ],
    ids=["controller-reference", "name-label", "cluster-scoped-labels", "no-owner"],
)
def test_owner_key(obj: dict[str, Any], expected: str | None) -> None:
    assert owner_key(obj) == expected


async def test_children_are_listed_in_pages_indexed_by_owner_and_enqueue_it(
    cluster: Cluster, kube: Client, cache: tuple[Cache, list[str]]
) -> None:
    c, keys = cache
    ns = cluster.namespace
    uids = {name: await _owner(cluster, name) for name in ("m", "n")}
    for i in range(5):
        owner = "m" if i % 2 == 0 else "n"
        await kube.create(CONFIGMAPS, _cm(f"cm{i}", ns, owner=owner, uid=uids[owner]))
    c.watch(CONFIGMAPS, labels.MANAGED_SELECTOR)
    await c.wait_synced()
    assert sorted(o["metadata"]["name"] for _, o in c.owned(f"{ns}/m")) == ["cm0", "cm2", "cm4"]
    assert sorted(set(keys)) == [f"{ns}/m", f"{ns}/n"]
    keys.clear()
    await kube.delete(CONFIGMAPS, "cm2", ns)
    await wait_for(lambda: keys == [f"{ns}/m"], message="the owner enqueued on delete")
    assert sorted(o["metadata"]["name"] for _, o in c.owned(f"{ns}/m")) == ["cm0", "cm4"]


async def test_only_objects_with_the_managed_label_are_cached(
    cluster: Cluster, kube: Client, cache: tuple[Cache, list[str]]
) -> None:
    c, _ = cache
    ns = cluster.namespace
    foreign = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "foreign", "namespace": ns}}
    await kube.create(CONFIGMAPS, foreign)
    await kube.create(CONFIGMAPS, _cm("ours", ns))
    c.watch(CONFIGMAPS, labels.MANAGED_SELECTOR)
    await c.wait_synced()
    assert c.get(CM, ns, "foreign") is None
    assert c.get(CM, ns, "ours") is not None


async def test_cluster_scoped_children_map_to_their_owner_by_labels(
    cluster: Cluster, kube: Client, cache: tuple[Cache, list[str]]
) -> None:
    c, keys = cache
    ns = cluster.namespace
    c.watch(CLUSTERROLES, labels.MANAGED_SELECTOR)
    await c.wait_synced()
    owner = {labels.OWNER_NAME: "m", labels.OWNER_NAMESPACE: ns, labels.OWNER_UID: "u"}
    name = f"{ns}-r"  # cluster-scoped: the namespace in the name keeps tests apart
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name, "labels": MANAGED | owner},
    }
    await kube.create(CLUSTERROLES, role)
    try:
        await wait_for(lambda: _ours(cluster, keys) == [f"{ns}/m"])
        assert [o["metadata"]["name"] for _, o in c.owned(f"{ns}/m")] == [name]
        assert c.get(CR, None, name) is not None
    finally:
        # Deleting the namespace does not remove cluster-scoped objects.
        await kube.delete(CLUSTERROLES, name)


async def test_a_write_is_served_until_the_watch_delivers_it(
    cluster: Cluster, kube: Client, cache: tuple[Cache, list[str]]
) -> None:
    c, _ = cache
    ns = cluster.namespace
    c.watch(CONFIGMAPS, labels.MANAGED_SELECTOR)
    await c.wait_synced()
    created = await kube.create(CONFIGMAPS, _cm("a", ns))
    await wait_for(lambda: c.get(CM, ns, "a"))
    rv = int(created["metadata"]["resourceVersion"])
    written = created | {"data": {"k": "written"}}
    written["metadata"] = created["metadata"] | {"resourceVersion": str(rv + 1)}
    c.record_write(CM, written)  # as if our write's response came before its watch event
    assert c.get(CM, ns, "a")["data"] == {"k": "written"}  # type: ignore[index]
    await kube.patch(CONFIGMAPS, "a", {"data": {"k": "server"}}, ns)
    await wait_for(lambda: c.get(CM, ns, "a")["data"] == {"k": "server"}, message="the watch")  # type: ignore[index]
    current = c.get(CM, ns, "a")
    assert current is not None
    c.record_delete(CM, current)
    assert c.get(CM, ns, "a") is None, "gone for the reconciler before the watch says so"
    await kube.delete(CONFIGMAPS, "a", ns)


async def test_a_write_the_watch_already_overtook_is_not_served(
    cluster: Cluster, kube: Client, cache: tuple[Cache, list[str]]
) -> None:
    c, _ = cache
    ns = cluster.namespace
    c.watch(CONFIGMAPS, labels.MANAGED_SELECTOR)
    await c.wait_synced()
    created = await kube.create(CONFIGMAPS, _cm("a", ns))
    updated = await kube.patch(CONFIGMAPS, "a", {"data": {"k": "v"}}, ns)
    rv = updated["metadata"]["resourceVersion"]
    await wait_for(lambda: (o := c.get(CM, ns, "a")) and o["metadata"]["resourceVersion"] == rv)
    c.record_write(CM, created)  # the create's response, processed after the watch delivered both
    assert c.get(CM, ns, "a")["metadata"]["resourceVersion"] == rv  # type: ignore[index]


async def test_a_relist_after_410_reports_only_what_changed(
    cluster: Cluster, kube: Client, cache: tuple[Cache, list[str]]
) -> None:
    c, keys = cache
    ns = cluster.namespace
    for name in ("a", "b", "c"):
        await kube.create(CONFIGMAPS, _cm(name, ns, extra={labels.OWNER_NAME: name}))
    c.watch(CONFIGMAPS, labels.MANAGED_SELECTOR)
    await c.wait_synced()
    informer = c.informers()[0]
    keys.clear()
    cluster.faults.expire_next_watches(1)
    # The informer's watch may still be on its way to the API server; cut it once the proxy holds it.
    await wait_for(cluster.close_watches, message="the informer's watch to be cut")
    await wait_for(lambda: informer.lists == 2, message="the relist")
    assert keys == [], "nothing changed, nothing enqueued"
    cluster.close_watches()
    await cluster.create(_cm("d", ns, extra={labels.OWNER_NAME: "d"}))
    await wait_for(lambda: keys == [f"{ns}/d"])


async def test_model_services_enqueue_themselves(cluster: Cluster, cache: tuple[Cache, list[str]]) -> None:
    c, keys = cache
    ns = cluster.namespace
    c.watch(MODELSERVICES)
    await c.wait_synced()
    await cluster.create(model_service("m"))
    await wait_for(lambda: keys == [f"{ns}/m"])
    assert c.keys(MODELSERVICE) == [f"{ns}/m"]


async def test_a_child_just_written_counts_as_owned_before_the_watch_reports_it(
    cluster: Cluster, kube: Client, cache: tuple[Cache, list[str]]
) -> None:
    c, _ = cache
    ns = cluster.namespace
    c.watch(CONFIGMAPS, labels.MANAGED_SELECTOR)
    await c.wait_synced()
    uid = await _owner(cluster, "m")
    created = await kube.create(CONFIGMAPS, _cm("a", ns, owner="m", uid=uid))
    # resourceVersions are the store's global revision: far beyond this one is newer than anything
    # the informer can have seen.
    newer = str(int(created["metadata"]["resourceVersion"]) + 1_000_000)
    written = created | {"metadata": created["metadata"] | {"resourceVersion": newer}}
    c.record_write(CM, written)
    assert ((CM, (ns, "a"))) in c.owned_keys(f"{ns}/m")
