"""CRUD through the official client: create, get, list, update, patch, delete and their errors."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes.aio.client.exceptions import ApiException

from localcluster import LocalCluster
from tests.localcluster.conftest import configmap, deployment, status_of

Manifest = dict[str, Any]


async def test_create_sets_uid_timestamp_generation_and_resource_version(core: Any) -> None:
    created = await core.create_namespaced_config_map("default", configmap("a", x="1"))
    assert created.metadata.uid
    assert created.metadata.creation_timestamp is not None
    assert created.metadata.generation == 1
    assert int(created.metadata.resource_version) > 0
    fetched = await core.read_namespaced_config_map("a", "default")
    assert fetched.data == {"x": "1"}
    assert fetched.metadata.resource_version == created.metadata.resource_version


async def test_every_write_takes_the_next_global_resource_version(core: Any, apps: Any) -> None:
    first = await core.create_namespaced_config_map("default", configmap("a"))
    second = await apps.create_namespaced_deployment("default", deployment())
    third = await core.create_namespaced_config_map("default", configmap("b"))
    versions = [int(o.metadata.resource_version) for o in (first, second, third)]
    assert versions == sorted(versions) and len(set(versions)) == 3


async def test_generate_name_appends_a_random_suffix(core: Any) -> None:
    created = await core.create_namespaced_config_map("default", {"metadata": {"generateName": "cfg-"}})
    assert created.metadata.name.startswith("cfg-") and len(created.metadata.name) == len("cfg-") + 5


async def test_missing_object_is_404_not_found_with_the_real_message(apps: Any) -> None:
    with pytest.raises(ApiException) as info:
        await apps.read_namespaced_deployment("x", "default")
    assert info.value.status == 404
    assert status_of(info.value) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'deployments.apps "x" not found',
        "reason": "NotFound",
        "details": {"name": "x", "group": "apps", "kind": "deployments"},
        "code": 404,
    }


async def test_creating_twice_is_409_already_exists(core: Any) -> None:
    await core.create_namespaced_config_map("default", configmap("a"))
    with pytest.raises(ApiException) as info:
        await core.create_namespaced_config_map("default", configmap("a"))
    assert info.value.status == 409
    assert status_of(info.value)["reason"] == "AlreadyExists"
    assert status_of(info.value)["message"] == 'configmaps "a" already exists'


async def test_creating_in_a_missing_namespace_is_404_on_the_namespace(core: Any) -> None:
    with pytest.raises(ApiException) as info:
        await core.create_namespaced_config_map("nowhere", configmap("a"))
    assert info.value.status == 404
    assert status_of(info.value)["message"] == 'namespaces "nowhere" not found'


async def test_update_with_a_stale_resource_version_is_409_conflict(core: Any) -> None:
    created = await core.create_namespaced_config_map("default", configmap("a", x="1"))
    created.data = {"x": "2"}
    await core.replace_namespaced_config_map("a", "default", created)
    created.data = {"x": "3"}
    with pytest.raises(ApiException) as info:
        await core.replace_namespaced_config_map("a", "default", created)
    assert info.value.status == 409
    assert status_of(info.value)["message"] == (
        'Operation cannot be fulfilled on configmaps "a": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )


async def test_no_op_update_keeps_the_resource_version(core: Any) -> None:
    created = await core.create_namespaced_config_map("default", configmap("a", x="1"))
    again = await core.replace_namespaced_config_map("a", "default", created)
    assert again.metadata.resource_version == created.metadata.resource_version


async def test_delete_removes_the_object(core: Any) -> None:
    await core.create_namespaced_config_map("default", configmap("a"))
    status = await core.delete_namespaced_config_map("a", "default")
    assert status["status"] == "Success"  # the asynchronous client returns the Status as a dict
    with pytest.raises(ApiException) as info:
        await core.read_namespaced_config_map("a", "default")
    assert info.value.status == 404


async def test_cluster_starts_with_default_and_kube_system_namespaces(local_cluster: LocalCluster) -> None:
    names = {ns["metadata"]["name"] for ns in local_cluster.list("v1", "Namespace")}
    assert {"default", "kube-system"} <= names
