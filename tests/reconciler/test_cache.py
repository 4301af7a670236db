"""Informers and the cache against the local API server: lists, watches, relists, owner index."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from localcluster.cluster import LocalCluster
from reconciler.cache import MODELSERVICE, Cache, owner_key
from reconciler.clock import SystemClock
from reconciler.kube import Client
from shared import labels
from tests.reconciler.harness import (
    CLUSTERROLES,
    CONFIGMAPS,
    MODELSERVICES,
    NAMESPACE,
    model_service,
    wait_for,
)

CM = ("v1", "ConfigMap")
CR = ("rbac.authorization.k8s.io/v1", "ClusterRole")
MANAGED = {labels.MANAGED_BY: labels.MANAGED_BY_VALUE}


def _cm(
    name: str, owner: str | None = None, extra: dict[str, str] | None = None, uid: str = "u"
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": NAMESPACE, "labels": MANAGED | (extra or {})}
    if owner:
        ref = {"apiVersion": "model.otterscale.io/v1alpha1", "kind": "ModelService", "name": owner}
        meta["ownerReferences"] = [ref | {"uid": uid, "controller": True}]
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}


async def _owner(cluster: LocalCluster, name: str) -> str:
    """Create ModelService ``name`` (so garbage collection keeps its children); its uid."""
    created = await cluster.create(model_service(name))
    return str(created["metadata"]["uid"])


@pytest.fixture
async def cache(kube: Client) -> AsyncIterator[tuple[Cache, list[str]]]:
    keys: list[str] = []
    cache = Cache(kube, SystemClock(), keys.append, page_size=2, watch_timeout=30)
    try:
        yield cache, keys
    finally:
        await cache.stop()


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (_cm("a", owner="m"), f"{NAMESPACE}/m"),
        (_cm("a", extra={labels.OWNER_NAME: "m"}), f"{NAMESPACE}/m"),
        (
            {"metadata": {"name": "c", "labels": {labels.OWNER_NAME: "m", labels.OWNER_NAMESPACE: "x"}}},
            "x/m",
        ),
        (_cm("a"), None),
    ],
    ids=["controller-reference", "name-label", "cluster-scoped-labels", "no-owner"],
)
def test_owner_key(obj: dict[str, Any], expected: str | None) -> None:
    assert owner_key(obj) == expected


async def test_children_are_listed_in_pages_indexed_by_owner_and_enqueue_it(
    cluster: LocalCluster, kube: Client, cache: tuple[Cache, list[str]]
) -> None:
    c, keys = cache
    uids = {name: await _owner(cluster, name) for name in ("m", "n")}
    for i in range(5):
        owner = "m" if i % 2 == 0 else "n"
        await kube.create(CONFIGMAPS, _cm(f"cm{i}", owner=owner, uid=uids[owner]))
    c.watch(CONFIGMAPS, labels.MANAGED_SELECTOR)
    await c.wait_synced()
    assert sorted(o["metadata"]["name"] for _, o in c.owned(f"{NAMESPACE}/m")) == ["cm0", "cm2", "cm4"]
    assert sorted(set(keys)) == [f"{NAMESPACE}/m", f"{NAMESPACE}/n"]
    keys.clear()
    await kube.delete(CONFIGMAPS, "cm2", NAMESPACE)
    await wait_for(lambda: keys == [f"{NAMESPACE}/m"], message="the owner enqueued on delete")
    assert sorted(o["metadata"]["name"] for _, o in c.owned(f"{NAMESPACE}/m")) == ["cm0", "cm4"]


async def test_only_objects_with_the_managed_label_are_cached(
    kube: Client, cache: tuple[Cache, list[str]]
) -> None:
    c, _ = cache
    foreign = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "foreign", "namespace": NAMESPACE},
    }
    await kube.create(CONFIGMAPS, foreign)
    await kube.create(CONFIGMAPS, _cm("ours"))
    c.watch(CONFIGMAPS, labels.MANAGED_SELECTOR)
    await c.wait_synced()
    assert c.get(CM, NAMESPACE, "foreign") is None
    assert c.get(CM, NAMESPACE, "ours") is not None


async def test_cluster_scoped_children_map_to_their_owner_by_labels(
    kube: Client, cache: tuple[Cache, list[str]]
) -> None:
    c, keys = cache
    c.watch(CLUSTERROLES, labels.MANAGED_SELECTOR)
    await c.wait_synced()
    owner = {labels.OWNER_NAME: "m", labels.OWNER_NAMESPACE: NAMESPACE, labels.OWNER_UID: "u"}
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "r", "labels": MANAGED | owner},
    }
    await kube.create(CLUSTERROLES, role)
    await wait_for(lambda: keys == [f"{NAMESPACE}/m"])
    assert [o["metadata"]["name"] for _, o in c.owned(f"{NAMESPACE}/m")] == ["r"]
    assert c.get(CR, None, "r") is not None


async def test_a_write_is_served_until_the_watch_delivers_it(
    kube: Client, cache: tuple[Cache, list[str]]
) -> None:
    c, _ = cache
    c.watch(CONFIGMAPS, labels.MANAGED_SELECTOR)
    await c.wait_synced()
    created = await kube.create(CONFIGMAPS, _cm("a"))
    await wait_for(lambda: c.get(CM, NAMESPACE, "a"))
    rv = int(created["metadata"]["resourceVersion"])
    written = created | {"data": {"k": "written"}}
    written["metadata"] = created["metadata"] | {"resourceVersion": str(rv + 1)}
    c.record_write(CM, written)  # as if our write's response came before its watch event
    assert c.get(CM, NAMESPACE, "a")["data"] == {"k": "written"}  # type: ignore[index]
    await kube.patch(CONFIGMAPS, "a", {"data": {"k": "server"}}, NAMESPACE)
    await wait_for(lambda: c.get(CM, NAMESPACE, "a")["data"] == {"k": "server"}, message="the watch")  # type: ignore[index]
    current = c.get(CM, NAMESPACE, "a")
    assert current is not None
    c.record_delete(CM, current)
    assert c.get(CM, NAMESPACE, "a") is None, "gone for the reconciler before the watch says so"
    await kube.delete(CONFIGMAPS, "a", NAMESPACE)


async def test_a_write_the_watch_already_overtook_is_not_served(
    kube: Client, cache: tuple[Cache, list[str]]
) -> None:
    c, _ = cache
    c.watch(CONFIGMAPS, labels.MANAGED_SELECTOR)
    await c.wait_synced()
    created = await kube.create(CONFIGMAPS, _cm("a"))
    updated = await kube.patch(CONFIGMAPS, "a", {"data": {"k": "v"}}, NAMESPACE)
    rv = updated["metadata"]["resourceVersion"]
    await wait_for(lambda: (o := c.get(CM, NAMESPACE, "a")) and o["metadata"]["resourceVersion"] == rv)
    c.record_write(CM, created)  # the create's response, processed after the watch delivered both
    assert c.get(CM, NAMESPACE, "a")["metadata"]["resourceVersion"] == rv  # type: ignore[index]


async def test_a_relist_after_410_reports_only_what_changed(
    cluster: LocalCluster, kube: Client, cache: tuple[Cache, list[str]]
) -> None:
    c, keys = cache
    for name in ("a", "b", "c"):
        await kube.create(CONFIGMAPS, _cm(name, extra={labels.OWNER_NAME: name}))
    c.watch(CONFIGMAPS, labels.MANAGED_SELECTOR)
    await c.wait_synced()
    informer = c.informers()[0]
    keys.clear()
    cluster.faults.expire_next_watches(1)
    cluster.close_watches()
    await wait_for(lambda: informer.lists == 2, message="the relist")
    assert keys == [], "nothing changed, nothing enqueued"
    cluster.close_watches()
    await cluster.create(_cm("d", extra={labels.OWNER_NAME: "d"}))
    await wait_for(lambda: keys == [f"{NAMESPACE}/d"])


async def test_model_services_enqueue_themselves(
    cluster: LocalCluster, kube: Client, cache: tuple[Cache, list[str]]
) -> None:

    c, keys = cache
    c.watch(MODELSERVICES)
    await c.wait_synced()
    await cluster.create(model_service("m"))
    await wait_for(lambda: keys == [f"{NAMESPACE}/m"])
    assert c.keys(MODELSERVICE) == [f"{NAMESPACE}/m"]


async def test_a_child_just_written_counts_as_owned_before_the_watch_reports_it(
    cluster: LocalCluster, kube: Client, cache: tuple[Cache, list[str]]
) -> None:
    c, _ = cache
    c.watch(CONFIGMAPS, labels.MANAGED_SELECTOR)
    await c.wait_synced()
    uid = await _owner(cluster, "m")
    created = await kube.create(CONFIGMAPS, _cm("a", owner="m", uid=uid))
    written = created | {"metadata": created["metadata"] | {"resourceVersion": "999999"}}
    c.record_write(CM, written)  # newer than anything the informer can have seen
    assert ((CM, (NAMESPACE, "a"))) in c.owned_keys(f"{NAMESPACE}/m")
