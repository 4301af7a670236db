"""Deletion: finalizers, propagation policies, the garbage collector and namespace termination."""

from __future__ import annotations

import asyncio
from typing import Any

import kubernetes.aio.client as k
import pytest
from kubernetes.aio.client.exceptions import ApiException

from localcluster import LocalCluster
from tests.localcluster.conftest import configmap, deployment, status_of

Manifest = dict[str, Any]


def owned_by(owner: Any, block: bool = False) -> list[Manifest]:
    meta = owner["metadata"] if isinstance(owner, dict) else owner.metadata
    uid, name = (meta["uid"], meta["name"]) if isinstance(meta, dict) else (meta.uid, meta.name)
    kind, api_version = ("Deployment", "apps/v1")
    if isinstance(owner, dict):
        kind, api_version = owner["kind"], owner["apiVersion"]
    return [
        {
            "apiVersion": api_version,
            "kind": kind,
            "name": name,
            "uid": uid,
            "blockOwnerDeletion": block,
            "controller": True,
        }
    ]


def child(name: str, owner: Any, block: bool = False) -> Manifest:
    obj = configmap(name)
    obj["metadata"]["ownerReferences"] = owned_by(owner, block)
    return obj


async def test_delete_with_finalizers_sets_deletion_timestamp_and_bumps_generation(
    core: Any, local_cluster: LocalCluster
) -> None:
    body = configmap("a")
    body["metadata"]["finalizers"] = ["example.com/keep"]
    created = await core.create_namespaced_config_map("default", body)
    await core.delete_namespaced_config_map("a", "default")
    pending = await core.read_namespaced_config_map("a", "default")
    assert pending.metadata.deletion_timestamp is not None
    assert pending.metadata.generation == created.metadata.generation + 1
    assert pending.metadata.finalizers == ["example.com/keep"]


async def test_removing_the_last_finalizer_deletes_the_object(core: Any) -> None:
    body = configmap("a")
    body["metadata"]["finalizers"] = ["example.com/one", "example.com/two"]
    await core.create_namespaced_config_map("default", body)
    await core.delete_namespaced_config_map("a", "default")
    await core.patch_namespaced_config_map(
        "a", "default", [{"op": "remove", "path": "/metadata/finalizers/0"}]
    )
    still = await core.read_namespaced_config_map("a", "default")
    assert still.metadata.finalizers == ["example.com/two"]
    await core.patch_namespaced_config_map(
        "a", "default", {"metadata": {"finalizers": None}}, _content_type="application/merge-patch+json"
    )
    with pytest.raises(ApiException) as info:
        await core.read_namespaced_config_map("a", "default")
    assert info.value.status == 404


async def test_new_finalizers_cannot_be_added_while_deleting(core: Any) -> None:
    body = configmap("a")
    body["metadata"]["finalizers"] = ["example.com/one"]
    await core.create_namespaced_config_map("default", body)
    await core.delete_namespaced_config_map("a", "default")
    with pytest.raises(ApiException) as info:
        await core.patch_namespaced_config_map(
            "a",
            "default",
            {"metadata": {"finalizers": ["example.com/one", "example.com/two"]}},
            _content_type="application/merge-patch+json",
        )
    assert info.value.status == 422
    assert status_of(info.value)["details"]["causes"][0]["field"] == "metadata.finalizers"


async def test_background_deletion_collects_dependents(
    local_cluster: LocalCluster, apps: Any, core: Any
) -> None:
    owner = await apps.create_namespaced_deployment("default", deployment())
    await core.create_namespaced_config_map("default", child("dep", owner))
    await apps.delete_namespaced_deployment("web", "default")
    async with asyncio.timeout(5):
        await local_cluster.wait_idle()
    assert local_cluster.get("v1", "ConfigMap", "dep", "default") is None


async def test_dependent_with_a_live_second_owner_survives_and_loses_the_dead_reference(
    local_cluster: LocalCluster, apps: Any, core: Any
) -> None:
    first = await apps.create_namespaced_deployment("default", deployment("first"))
    second = await apps.create_namespaced_deployment("default", deployment("second"))
    obj = configmap("shared")
    obj["metadata"]["ownerReferences"] = [*owned_by(first), {**owned_by(second)[0], "controller": False}]
    await core.create_namespaced_config_map("default", obj)
    await apps.delete_namespaced_deployment("first", "default")
    async with asyncio.timeout(5):
        await local_cluster.wait_idle()
    survivor = local_cluster.get("v1", "ConfigMap", "shared", "default")
    assert survivor is not None
    assert [r["name"] for r in survivor["metadata"]["ownerReferences"]] == ["second"]


async def test_foreground_deletion_waits_for_blocking_dependents(
    local_cluster: LocalCluster, apps: Any, core: Any
) -> None:
    owner = await apps.create_namespaced_deployment("default", deployment())
    dep = child("dep", owner, block=True)
    dep["metadata"]["finalizers"] = ["example.com/hold"]
    await core.create_namespaced_config_map("default", dep)
    await apps.delete_namespaced_deployment("web", "default", propagation_policy="Foreground")
    async with asyncio.timeout(5):
        await local_cluster.wait_idle()
    waiting = local_cluster.get("apps/v1", "Deployment", "web", "default")
    assert waiting is not None and waiting["metadata"]["finalizers"] == ["foregroundDeletion"]
    held = local_cluster.get("v1", "ConfigMap", "dep", "default")
    assert held is not None and held["metadata"].get("deletionTimestamp")
    await core.patch_namespaced_config_map(
        "dep", "default", {"metadata": {"finalizers": None}}, _content_type="application/merge-patch+json"
    )
    async with asyncio.timeout(5):
        await local_cluster.wait_idle()
    assert local_cluster.get("apps/v1", "Deployment", "web", "default") is None


async def test_orphan_deletion_keeps_dependents_and_drops_their_references(
    local_cluster: LocalCluster, apps: Any, core: Any
) -> None:
    owner = await apps.create_namespaced_deployment("default", deployment())
    await core.create_namespaced_config_map("default", child("dep", owner))
    await apps.delete_namespaced_deployment("web", "default", propagation_policy="Orphan")
    async with asyncio.timeout(5):
        await local_cluster.wait_idle()
    assert local_cluster.get("apps/v1", "Deployment", "web", "default") is None
    orphan = local_cluster.get("v1", "ConfigMap", "dep", "default")
    assert orphan is not None and "ownerReferences" not in orphan["metadata"]


async def test_cluster_scoped_owner_collects_namespaced_dependents(
    local_cluster: LocalCluster, api: Any, core: Any
) -> None:
    rbac: Any = k.RbacAuthorizationV1Api(api)
    role = await rbac.create_cluster_role({"metadata": {"name": "owner-role"}})
    ref = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "name": "owner-role",
        "uid": role.metadata.uid,
    }
    obj = configmap("dep")
    obj["metadata"]["ownerReferences"] = [ref]
    await core.create_namespaced_config_map("default", obj)
    await rbac.delete_cluster_role("owner-role")
    async with asyncio.timeout(5):
        await local_cluster.wait_idle()
    assert local_cluster.get("v1", "ConfigMap", "dep", "default") is None


async def test_dependent_of_an_owner_that_never_existed_is_collected(
    local_cluster: LocalCluster, core: Any
) -> None:
    obj = configmap("dangling")
    obj["metadata"]["ownerReferences"] = [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": "ghost",
            "uid": "00000000-0000-4000-8000-000000000000",
        }
    ]
    await core.create_namespaced_config_map("default", obj)
    async with asyncio.timeout(5):
        await local_cluster.wait_idle()
    assert local_cluster.get("v1", "ConfigMap", "dangling", "default") is None


async def test_namespace_deletion_terminates_then_removes_the_namespace(
    local_cluster: LocalCluster, core: Any
) -> None:
    await core.create_namespace({"metadata": {"name": "doomed"}})
    held = configmap("held")
    held["metadata"]["finalizers"] = ["example.com/hold"]
    await core.create_namespaced_config_map("doomed", held)
    await core.create_namespaced_config_map("doomed", configmap("plain"))
    await core.delete_namespace("doomed")
    async with asyncio.timeout(5):
        await local_cluster.wait_idle()
    terminating = await core.read_namespace("doomed")
    assert terminating.status.phase == "Terminating"
    assert local_cluster.get("v1", "ConfigMap", "plain", "doomed") is None
    with pytest.raises(ApiException) as info:
        await core.create_namespaced_config_map("doomed", configmap("late"))
    assert info.value.status == 403
    await core.patch_namespaced_config_map(
        "held", "doomed", {"metadata": {"finalizers": None}}, _content_type="application/merge-patch+json"
    )
    async with asyncio.timeout(5):
        await local_cluster.wait_idle()
    assert local_cluster.get("v1", "Namespace", "doomed") is None


async def test_default_namespace_cannot_be_deleted(core: Any) -> None:
    with pytest.raises(ApiException) as info:
        await core.delete_namespace("default")
    assert info.value.status == 403


async def test_delete_precondition_on_uid_is_409(core: Any) -> None:
    await core.create_namespaced_config_map("default", configmap("a"))
    with pytest.raises(ApiException) as info:
        await core.delete_namespaced_config_map("a", "default", body={"preconditions": {"uid": "other"}})
    assert info.value.status == 409
