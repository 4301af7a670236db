"""Ownership: foreign objects that share a derived name are never touched; orphans are adopted."""

from __future__ import annotations

from typing import Any

from reconciler.runtime.client import Client
from shared import labels
from tests.reconciler.harness import (
    CONFIGMAPS,
    condition,
    get,
    model_service,
    running_reconciler,
    wait_for,
)
from tests.support.cluster import Cluster

EPP_KINDS = [("v1", "ServiceAccount"), ("v1", "ConfigMap"), ("apps/v1", "Deployment"), ("v1", "Service")]
READY_TIMEOUT = 30.0
"""Ready needs real pods: scheduled, then started and made ready by the fake kubelets."""
WRITES = frozenset({"PUT", "PATCH", "DELETE"})


def _versions(cluster: Cluster, name: str) -> dict[str, Any]:
    """What would change if anyone wrote the EPP's objects. The Deployment controller keeps writing
    a Deployment's status (each write a new resourceVersion), so for the Deployment this is
    everything but the status; a real server leaves the resourceVersion alone on a no-op write, so
    comparing contents misses nothing a resourceVersion would show."""
    found: dict[str, Any] = {}
    for api_version, kind in EPP_KINDS:
        obj_name = f"{name}-config" if kind == "ConfigMap" else name
        obj = cluster.get(api_version, kind, obj_name)
        assert obj is not None, f"{kind} {obj_name}"
        if kind == "Deployment":
            meta = {k: v for k, v in obj["metadata"].items() if k not in ("resourceVersion", "managedFields")}
            found[kind] = (meta, obj["spec"])
        else:
            found[kind] = obj["metadata"]["resourceVersion"]
    return found


def _writes_to(cluster: Cluster, names: set[str], since: int) -> list[str]:
    """Writes by the reconciler, after request number ``since``, to objects named in ``names``."""
    return [
        f"{r.method} {r.path}"
        for r in cluster.requests[since:]
        if r.method in WRITES and r.path.rstrip("/").rsplit("/", 1)[-1] in names
    ]


async def test_two_names_that_sanitize_alike_do_not_fight_over_the_epp(cluster: Cluster) -> None:
    async with running_reconciler(cluster) as r:
        await cluster.create(model_service("a-b"))
        await wait_for(
            lambda: condition(get(cluster, "ModelService", "a-b"), "Ready").get("status") == "True",
            READY_TIMEOUT,
        )
        await r.idle()
        before = _versions(cluster, "a-b-epp")
        since = len(cluster.requests)
        owner_uid = get(cluster, "ModelService", "a-b")["metadata"]["uid"]  # type: ignore[index]
        await cluster.create(model_service("a.b"))
        conflict = await wait_for(lambda: condition(get(cluster, "ModelService", "a.b"), "NameConflict"))
        assert conflict["status"] == "True"
        assert (
            f"ServiceAccount {cluster.namespace}/a-b-epp is controlled by ModelService a-b (uid {owner_uid})"
            in (conflict["message"])
        )
        ready = condition(get(cluster, "ModelService", "a.b"), "Ready")
        assert (ready["status"], ready["reason"]) == ("False", "NameConflict")
        assert cluster.get("apps/v1", "Deployment", "a.b-decode") is not None, "the rest is reconciled"
        await r.resync()
        assert _versions(cluster, "a-b-epp") == before, "the other ModelService's objects were written"
        assert _writes_to(cluster, {"a-b-epp", "a-b-epp-config"}, since) == []
        assert condition(get(cluster, "ModelService", "a-b"), "Ready").get("status") == "True"


async def test_an_unlabelled_object_in_the_way_is_reported_then_replaced_once_removed(
    cluster: Cluster, kube: Client
) -> None:
    foreign: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "qwen-epp-config"},
        "data": {"mine": "yes"},
    }
    created = await cluster.create(foreign)
    async with running_reconciler(cluster, resync_period=0.3) as r:
        await cluster.create(model_service("qwen"))
        conflict = await wait_for(lambda: condition(get(cluster, "ModelService", "qwen"), "NameConflict"))
        expected = f"ConfigMap {cluster.namespace}/qwen-epp-config is controlled by no controller"
        assert conflict["message"] == f"{expected} (not managed by this operator)"
        await r.resync()
        live = cluster.get("v1", "ConfigMap", "qwen-epp-config")
        assert live is not None
        assert (live["metadata"]["resourceVersion"], live["data"]) == (
            created["metadata"]["resourceVersion"],
            {"mine": "yes"},
        )
        await kube.delete(CONFIGMAPS, "qwen-epp-config", cluster.namespace)
        await wait_for(
            lambda: (
                (cm := cluster.get("v1", "ConfigMap", "qwen-epp-config"))
                and "default-plugins.yaml" in cm["data"]
            ),
            message="our ConfigMap after the foreign one is gone",
        )
        await wait_for(lambda: not condition(get(cluster, "ModelService", "qwen"), "NameConflict"))


async def test_an_orphaned_child_with_our_labels_is_adopted(cluster: Cluster) -> None:
    orphan: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {
            "name": "qwen-epp",
            "labels": {labels.MANAGED_BY: labels.MANAGED_BY_VALUE, "kept": "yes"},
        },
    }
    await cluster.create(orphan)
    async with running_reconciler(cluster):
        await cluster.create(model_service("qwen"))
        uid = (await wait_for(lambda: get(cluster, "ModelService", "qwen")))["metadata"]["uid"]
        adopted = await wait_for(
            lambda: (
                (sa := cluster.get("v1", "ServiceAccount", "qwen-epp"))
                and sa["metadata"].get("ownerReferences")
                and sa
            )
        )
        assert [ref["uid"] for ref in adopted["metadata"]["ownerReferences"]] == [uid]
        assert adopted["metadata"]["labels"]["kept"] == "yes"
        assert adopted["metadata"]["labels"][labels.OWNER_NAME] == "qwen"
        assert not condition(get(cluster, "ModelService", "qwen"), "NameConflict")
