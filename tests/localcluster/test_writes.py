"""Writes beyond plain CRUD: the patch types, generation, dryRun, validation, status subresource."""

from __future__ import annotations

from typing import Any

import aiohttp
import kubernetes.aio.client as k
import pytest
from kubernetes.aio.client.exceptions import ApiException

from localcluster import LocalCluster
from tests.localcluster.conftest import configmap, deployment, status_of, widget, widget_crd

Manifest = dict[str, Any]


async def test_json_merge_patch_merges_maps_and_deletes_nulls(core: Any) -> None:
    await core.create_namespaced_config_map("default", configmap("a", x="1", y="2"))
    patched = await core.patch_namespaced_config_map(
        "a", "default", {"data": {"y": None, "z": "3"}}, _content_type="application/merge-patch+json"
    )
    assert patched.data == {"x": "1", "z": "3"}


async def test_json_patch_applies_operations(core: Any) -> None:
    await core.create_namespaced_config_map("default", configmap("a", x="1"))
    patched = await core.patch_namespaced_config_map(
        "a", "default", [{"op": "add", "path": "/data/y", "value": "2"}, {"op": "remove", "path": "/data/x"}]
    )
    assert patched.data == {"y": "2"}


async def test_failing_json_patch_is_422(core: Any) -> None:
    await core.create_namespaced_config_map("default", configmap("a", x="1"))
    with pytest.raises(ApiException) as info:
        await core.patch_namespaced_config_map(
            "a", "default", [{"op": "test", "path": "/data/x", "value": "9"}]
        )
    assert info.value.status == 422


async def test_strategic_merge_patch_merges_containers_by_name(apps: Any) -> None:
    dep = deployment()
    dep["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "busybox:1"})
    await apps.create_namespaced_deployment("default", dep)
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "sidecar", "image": "busybox:2", "env": [{"name": "A", "value": "1"}]}
                    ]
                }
            }
        }
    }
    patched = await apps.patch_namespaced_deployment("web", "default", patch)
    containers = {c.name: c for c in patched.spec.template.spec.containers}
    assert containers["main"].image == "nginx:1.27"
    assert containers["sidecar"].image == "busybox:2"
    assert [(e.name, e.value) for e in containers["sidecar"].env] == [("A", "1")]


async def test_strategic_merge_patch_deletes_list_items_with_a_directive(apps: Any) -> None:
    dep = deployment()
    dep["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "busybox:1"})
    await apps.create_namespaced_deployment("default", dep)
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}}}
    patched = await apps.patch_namespaced_deployment("web", "default", patch)
    assert [c.name for c in patched.spec.template.spec.containers] == ["main"]


async def test_strategic_merge_patch_on_a_custom_resource_is_415(
    local_cluster: LocalCluster, custom: Any
) -> None:
    await local_cluster.install_crd(widget_crd())
    await local_cluster.create(widget("w"))
    with pytest.raises(ApiException) as info:
        await custom.patch_namespaced_custom_object(
            "example.com",
            "v1",
            "default",
            "widgets",
            "w",
            {"spec": {"size": 2}},
            _content_type="application/strategic-merge-patch+json",
        )
    assert info.value.status == 415


async def test_patch_carrying_a_stale_resource_version_is_409(core: Any) -> None:
    created = await core.create_namespaced_config_map("default", configmap("a", x="1"))
    await core.patch_namespaced_config_map("a", "default", {"data": {"x": "2"}})
    stale = {"metadata": {"resourceVersion": created.metadata.resource_version}, "data": {"x": "3"}}
    with pytest.raises(ApiException) as info:
        await core.patch_namespaced_config_map("a", "default", stale)
    assert info.value.status == 409
    assert status_of(info.value)["reason"] == "Conflict"


async def test_generation_bumps_on_spec_changes_only(apps: Any) -> None:
    await apps.create_namespaced_deployment("default", deployment())
    relabeled = await apps.patch_namespaced_deployment("web", "default", {"metadata": {"labels": {"x": "y"}}})
    scaled = await apps.patch_namespaced_deployment("web", "default", {"spec": {"replicas": 3}})
    assert (relabeled.metadata.generation, scaled.metadata.generation) == (1, 2)


async def test_generation_counts_status_changes_for_kinds_without_status_subresource(
    local_cluster: LocalCluster, custom: Any
) -> None:
    await local_cluster.install_crd(widget_crd(status=False))
    await local_cluster.create(widget("w"))
    patched = await custom.patch_namespaced_custom_object(
        "example.com", "v1", "default", "widgets", "w", {"status": {"phase": "Ready"}}
    )
    assert patched["metadata"]["generation"] == 2
    assert patched["status"] == {"phase": "Ready"}


@pytest.mark.parametrize("verb", ["create", "update", "patch", "delete"])
async def test_dry_run_persists_nothing(local_cluster: LocalCluster, core: Any, verb: str) -> None:
    if verb != "create":
        await core.create_namespaced_config_map("default", configmap("a", x="1"))
    before = local_cluster.store.resource_version
    if verb == "create":
        result = await core.create_namespaced_config_map("default", configmap("a", x="1"), dry_run="All")
        assert result.metadata.uid and result.metadata.resource_version is None
    elif verb == "update":
        result = await core.replace_namespaced_config_map(
            "a", "default", configmap("a", x="2"), dry_run="All"
        )
        assert result.data == {"x": "2"}
    elif verb == "patch":
        result = await core.patch_namespaced_config_map("a", "default", {"data": {"x": "2"}}, dry_run="All")
        assert result.data == {"x": "2"}
    else:
        await core.delete_namespaced_config_map("a", "default", dry_run="All")
    assert local_cluster.store.resource_version == before
    stored = local_cluster.get("v1", "ConfigMap", "a", "default")
    assert (stored or {}).get("data") == (None if verb == "create" else {"x": "1"})


async def test_field_manager_is_accepted(core: Any) -> None:
    created = await core.create_namespaced_config_map("default", configmap("a"), field_manager="tests")
    assert created.metadata.name == "a"


NAME_CASES = [
    ("configmaps", "Bad_Name", "metadata.name", "a lowercase RFC 1123 subdomain must consist of"),
    ("configmaps", "a" * 254, "metadata.name", "must be no more than 253 characters"),
    ("services", "1-starts-with-digit", "metadata.name", "a DNS-1035 label must consist of"),
    ("services", "s" * 64, "metadata.name", "must be no more than 63 characters"),
]


@pytest.mark.parametrize(
    ("plural", "name", "field", "fragment"),
    NAME_CASES,
    ids=["subdomain-syntax", "subdomain-length", "service-dns1035", "service-length"],
)
async def test_invalid_names_are_422_with_the_field_path(
    core: Any, plural: str, name: str, field: str, fragment: str
) -> None:
    body: Manifest = {"metadata": {"name": name}}
    with pytest.raises(ApiException) as info:
        if plural == "services":
            body["spec"] = {"ports": [{"port": 80}]}
            await core.create_namespaced_service("default", body)
        else:
            await core.create_namespaced_config_map("default", body)
    status = status_of(info.value)
    assert info.value.status == 422
    assert status["reason"] == "Invalid"
    cause = status["details"]["causes"][0]
    assert cause["field"] == field and cause["reason"] == "FieldValueInvalid" and fragment in cause["message"]


@pytest.mark.parametrize(
    ("labels", "fragment"),
    [
        ({"app": "v" * 64}, "must be no more than 63 characters"),
        ({"app": "bad value"}, "a valid label must be"),
        ({"bad key!": "x"}, "name part must consist of"),
    ],
    ids=["value-too-long", "value-syntax", "key-syntax"],
)
async def test_invalid_labels_are_422(core: Any, labels: dict[str, str], fragment: str) -> None:
    with pytest.raises(ApiException) as info:
        await core.create_namespaced_config_map("default", configmap("a", labels))
    cause = status_of(info.value)["details"]["causes"][0]
    assert info.value.status == 422
    assert cause["field"] == "metadata.labels" and fragment in cause["message"]


async def test_missing_name_is_422_required(core: Any) -> None:
    with pytest.raises(ApiException) as info:
        await core.create_namespaced_config_map("default", {"data": {}})
    status = status_of(info.value)
    assert (
        status["message"]
        == 'ConfigMap "" is invalid: metadata.name: Required value: name or generateName is required'
    )


async def test_malformed_json_body_is_400(local_cluster: LocalCluster) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{local_cluster.url}/api/v1/namespaces/default/configmaps",
            data=b"{not json",
            headers={"Content-Type": "application/json"},
        ) as resp,
    ):
        body = await resp.json()
    assert (resp.status, body["reason"], body["kind"]) == (400, "BadRequest", "Status")


async def test_unsupported_method_is_405(local_cluster: LocalCluster) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{local_cluster.url}/api/v1/namespaces/default/configmaps/a", json={}) as resp,
    ):
        body = await resp.json()
    assert (resp.status, body["reason"]) == (405, "MethodNotAllowed")


async def test_cluster_scoped_objects_have_no_namespace(api: Any) -> None:
    rbac: Any = k.RbacAuthorizationV1Api(api)
    created = await rbac.create_cluster_role(
        {
            "metadata": {"name": "reader"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
        }
    )
    assert created.metadata.namespace is None
    listed = await rbac.list_cluster_role()
    assert [r.metadata.name for r in listed.items] == ["reader"]


async def test_secret_string_data_is_stored_base64_in_data(core: Any) -> None:
    created = await core.create_namespaced_secret(
        "default", {"metadata": {"name": "s"}, "stringData": {"k": "v"}}
    )
    assert created.data == {"k": "dg=="} and created.string_data is None and created.type == "Opaque"


# ----- status subresource --------------------------------------------------------------------


async def test_main_resource_writes_ignore_status_for_deployments(apps: Any) -> None:
    dep = deployment()
    dep["status"] = {"replicas": 9}
    created = await apps.create_namespaced_deployment("default", dep)
    patched = await apps.patch_namespaced_deployment("web", "default", {"status": {"readyReplicas": 9}})
    assert created.status.replicas is None and patched.status.ready_replicas is None


async def test_status_writes_change_only_status(apps: Any) -> None:
    created = await apps.create_namespaced_deployment("default", deployment())
    body = {
        "metadata": {"labels": {"sneaky": "yes"}},
        "spec": {"replicas": 5},
        "status": {"readyReplicas": 1},
    }
    patched = await apps.patch_namespaced_deployment_status("web", "default", body)
    assert patched.status.ready_replicas == 1
    assert patched.spec.replicas == 1 and patched.metadata.labels is None
    assert patched.metadata.generation == created.metadata.generation


async def test_custom_resource_status_subresource_put_and_patch(
    local_cluster: LocalCluster, custom: Any
) -> None:
    await local_cluster.install_crd(widget_crd())
    created = await custom.create_namespaced_custom_object(
        "example.com", "v1", "default", "widgets", {**widget("w", size=2), "status": {"phase": "x"}}
    )
    assert "status" not in created
    created["status"] = {"phase": "Ready"}
    created["spec"]["size"] = 7
    put = await custom.replace_namespaced_custom_object_status(
        "example.com", "v1", "default", "widgets", "w", created
    )
    patched = await custom.patch_namespaced_custom_object_status(
        "example.com", "v1", "default", "widgets", "w", {"status": {"observed": 1}}
    )
    assert put["status"] == {"phase": "Ready"} and put["spec"]["size"] == 2
    assert patched["status"] == {"phase": "Ready", "observed": 1}
    main = await custom.patch_namespaced_custom_object(
        "example.com", "v1", "default", "widgets", "w", {"status": {"phase": "ignored"}, "spec": {"size": 3}}
    )
    assert main["status"] == {"phase": "Ready", "observed": 1} and main["spec"]["size"] == 3


async def test_update_of_a_custom_resource_without_resource_version_is_422(
    local_cluster: LocalCluster, custom: Any
) -> None:
    await local_cluster.install_crd(widget_crd())
    await local_cluster.create(widget("w"))
    with pytest.raises(ApiException) as info:
        await custom.replace_namespaced_custom_object(
            "example.com", "v1", "default", "widgets", "w", widget("w")
        )
    assert info.value.status == 422
    assert status_of(info.value)["details"]["causes"][0]["field"] == "metadata.resourceVersion"


async def test_service_update_without_cluster_ip_keeps_the_allocated_one(core: Any) -> None:
    created = await core.create_namespaced_service(
        "default", {"metadata": {"name": "svc"}, "spec": {"ports": [{"port": 80}]}}
    )
    replaced = await core.replace_namespaced_service(
        "svc",
        "default",
        {
            "metadata": {"name": "svc", "resourceVersion": created.metadata.resource_version},
            "spec": {"ports": [{"port": 81}]},
        },
    )
    assert created.spec.cluster_ip and replaced.spec.cluster_ip == created.spec.cluster_ip
    assert replaced.spec.ports[0].target_port == 81
    with pytest.raises(ApiException) as info:
        await core.patch_namespaced_service("svc", "default", {"spec": {"clusterIP": "10.0.0.1"}})
    assert status_of(info.value)["details"]["causes"][0]["field"] == "spec.clusterIP"
