"""Discovery, OpenAPI and CustomResourceDefinitions as the API exposes them."""

from __future__ import annotations

from typing import Any

import aiohttp
import kubernetes.aio.client as k
import pytest
from kubernetes.aio.client.exceptions import ApiException

from localcluster import LocalCluster
from tests.localcluster.conftest import status_of, widget, widget_crd

Manifest = dict[str, Any]


async def get_json(cluster: LocalCluster, path: str) -> tuple[int, Manifest]:
    async with aiohttp.ClientSession() as http, http.get(cluster.url + path) as resp:
        return resp.status, await resp.json(content_type=None)


async def test_version_reports_a_kubernetes_1_32_server(api: Any) -> None:
    info = await k.VersionApi(api).get_code()
    assert (info.major, info.minor) == ("1", "32") and info.git_version.startswith("v1.32.")


async def test_core_api_versions(api: Any) -> None:
    versions = await k.CoreApi(api).get_api_versions()
    assert versions.versions == ["v1"]


BUILTINS = [
    ("/api/v1", "namespaces", "Namespace", False, ["ns"], True),
    ("/api/v1", "pods", "Pod", True, ["po"], True),
    ("/api/v1", "services", "Service", True, ["svc"], True),
    ("/api/v1", "serviceaccounts", "ServiceAccount", True, ["sa"], False),
    ("/api/v1", "configmaps", "ConfigMap", True, ["cm"], False),
    ("/api/v1", "secrets", "Secret", True, [], False),
    ("/api/v1", "events", "Event", True, ["ev"], False),
    ("/apis/apps/v1", "deployments", "Deployment", True, ["deploy"], True),
    ("/apis/rbac.authorization.k8s.io/v1", "roles", "Role", True, [], False),
    ("/apis/rbac.authorization.k8s.io/v1", "rolebindings", "RoleBinding", True, [], False),
    ("/apis/rbac.authorization.k8s.io/v1", "clusterroles", "ClusterRole", False, [], False),
    ("/apis/rbac.authorization.k8s.io/v1", "clusterrolebindings", "ClusterRoleBinding", False, [], False),
    ("/apis/coordination.k8s.io/v1", "leases", "Lease", True, [], False),
    ("/apis/events.k8s.io/v1", "events", "Event", True, ["ev"], False),
    (
        "/apis/admissionregistration.k8s.io/v1",
        "mutatingwebhookconfigurations",
        "MutatingWebhookConfiguration",
        False,
        [],
        False,
    ),
    (
        "/apis/admissionregistration.k8s.io/v1",
        "validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration",
        False,
        [],
        False,
    ),
    (
        "/apis/apiextensions.k8s.io/v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        False,
        ["crd", "crds"],
        True,
    ),
]


@pytest.mark.parametrize(
    ("path", "plural", "kind", "namespaced", "short", "status"),
    BUILTINS,
    ids=[f"{b[0].rsplit('/', 2)[-2]}-{b[1]}" for b in BUILTINS],
)
async def test_builtin_resources_are_listed_in_discovery(
    local_cluster: LocalCluster,
    path: str,
    plural: str,
    kind: str,
    namespaced: bool,
    short: list[str],
    status: bool,
) -> None:
    code, doc = await get_json(local_cluster, path)
    assert code == 200 and doc["kind"] == "APIResourceList"
    entry = next(r for r in doc["resources"] if r["name"] == plural)
    assert (entry["kind"], entry["namespaced"], entry.get("shortNames", [])) == (kind, namespaced, short)
    assert {"create", "get", "list", "watch", "update", "patch", "delete"} <= set(entry["verbs"])
    assert entry["singularName"] == kind.lower()
    assert any(r["name"] == f"{plural}/status" for r in doc["resources"]) == status


async def test_api_groups_list_every_builtin_group(api: Any) -> None:
    groups = await k.ApisApi(api).get_api_versions()
    names = {g.name for g in groups.groups}
    assert {
        "apps",
        "rbac.authorization.k8s.io",
        "coordination.k8s.io",
        "events.k8s.io",
        "admissionregistration.k8s.io",
        "apiextensions.k8s.io",
    } <= names
    apps: Any = await k.AppsApi(api).get_api_group()
    assert apps.preferred_version.group_version == "apps/v1"


async def test_created_crd_is_established_and_discoverable(local_cluster: LocalCluster, crds: Any) -> None:
    created = await crds.create_custom_resource_definition(widget_crd(versions=("v1", "v2")))
    conditions = {c.type: c.status for c in created.status.conditions}
    assert conditions == {"NamesAccepted": "True", "Established": "True"}
    assert created.status.accepted_names.kind == "Widget" and created.status.stored_versions == ["v1"]
    code, group = await get_json(local_cluster, "/apis/example.com")
    assert code == 200 and group["preferredVersion"]["version"] == "v2"
    _, doc = await get_json(local_cluster, "/apis/example.com/v1")
    widgets = next(r for r in doc["resources"] if r["name"] == "widgets")
    assert (widgets["kind"], widgets["namespaced"], widgets["shortNames"], widgets["categories"]) == (
        "Widget",
        True,
        ["wd"],
        ["all"],
    )
    assert any(r["name"] == "widgets/status" for r in doc["resources"])


async def test_cluster_scoped_crd_serves_cluster_scoped_objects(
    local_cluster: LocalCluster, custom: Any
) -> None:
    await local_cluster.install_crd(widget_crd(scope="Cluster"))
    created = await custom.create_cluster_custom_object("example.com", "v1", "widgets", widget("global"))
    assert "namespace" not in created["metadata"]


async def test_multi_version_crd_serves_objects_in_every_version(
    local_cluster: LocalCluster, custom: Any
) -> None:
    await local_cluster.install_crd(widget_crd(versions=("v1", "v2")))
    await custom.create_namespaced_custom_object("example.com", "v1", "default", "widgets", widget("w"))
    as_v2 = await custom.get_namespaced_custom_object("example.com", "v2", "default", "widgets", "w")
    assert as_v2["apiVersion"] == "example.com/v2"


async def test_deleting_a_crd_removes_its_resource_and_objects(
    local_cluster: LocalCluster, crds: Any, custom: Any
) -> None:
    await crds.create_custom_resource_definition(widget_crd())
    await custom.create_namespaced_custom_object("example.com", "v1", "default", "widgets", widget("w"))
    await crds.delete_custom_resource_definition("widgets.example.com")
    code, _ = await get_json(local_cluster, "/apis/example.com/v1")
    assert code == 404
    with pytest.raises(ApiException) as info:
        await custom.get_namespaced_custom_object("example.com", "v1", "default", "widgets", "w")
    assert info.value.status == 404
    assert local_cluster.store.count(("example.com", "widgets")) == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda c: c["metadata"].update(name="wrong.example.com"), "metadata.name"),
        (lambda c: c["spec"]["versions"][0].update(storage=False), "spec.versions"),
        (lambda c: c["spec"]["versions"][0].pop("schema"), "spec.versions[0].schema.openAPIV3Schema"),
        (lambda c: c["spec"].update(scope="Galaxy"), "spec.scope"),
    ],
    ids=["name-must-be-plural-dot-group", "one-storage-version", "schema-required", "scope"],
)
async def test_invalid_crds_are_422(crds: Any, change: Any, field: str) -> None:
    crd = widget_crd()
    change(crd)
    with pytest.raises(ApiException) as info:
        await crds.create_custom_resource_definition(crd)
    assert info.value.status == 422
    assert field in [c["field"] for c in status_of(info.value)["details"]["causes"]]


async def test_unknown_paths_are_404_not_found(local_cluster: LocalCluster) -> None:
    code, body = await get_json(local_cluster, "/apis/nothing.example.com/v1/things")
    assert code == 404
    assert (body["kind"], body["reason"], body["message"]) == (
        "Status",
        "NotFound",
        "the server could not find the requested resource",
    )


async def test_openapi_v3_advertises_server_side_field_validation(local_cluster: LocalCluster) -> None:
    code, root = await get_json(local_cluster, "/openapi/v3")
    assert code == 200
    url = root["paths"]["apis/apps/v1"]["serverRelativeURL"]
    assert url.startswith("/openapi/v3/apis/apps/v1?hash=")
    _, doc = await get_json(local_cluster, url)
    patch = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {
        "group": "apps",
        "version": "v1",
        "kind": "Deployment",
    }
    assert {"name": "fieldValidation", "in": "query"}.items() <= patch["parameters"][0].items()


async def test_openapi_v2_is_not_served(local_cluster: LocalCluster) -> None:
    code, _ = await get_json(local_cluster, "/openapi/v2")
    assert code == 404


async def test_list_table_output_uses_crd_printer_columns(local_cluster: LocalCluster) -> None:
    await local_cluster.install_crd(widget_crd())
    await local_cluster.create(widget("w", size=3))
    headers = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{local_cluster.url}/apis/example.com/v1/namespaces/default/widgets", headers=headers
        ) as resp,
    ):
        table = await resp.json()
    assert table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Size", "Age"]
    assert table["rows"][0]["cells"][:2] == ["w", 3]
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


THIRD_PARTY = [
    ("inference.networking.k8s.io", "v1", "inferencepools", "InferencePool"),
    ("gateway.networking.k8s.io", "v1", "httproutes", "HTTPRoute"),
    ("networking.istio.io", "v1beta1", "destinationrules", "DestinationRule"),
    ("networking.istio.io", "v1", "destinationrules", "DestinationRule"),
    ("monitoring.coreos.com", "v1", "podmonitors", "PodMonitor"),
    ("monitoring.coreos.com", "v1", "servicemonitors", "ServiceMonitor"),
]


@pytest.mark.parametrize(
    ("group", "version", "plural", "kind"), THIRD_PARTY, ids=[f"{t[2]}-{t[1]}" for t in THIRD_PARTY]
)
async def test_third_party_stub_crds_keep_any_spec_and_have_status(
    local_cluster_factory: Any, group: str, version: str, plural: str, kind: str
) -> None:
    cluster: LocalCluster = await local_cluster_factory(third_party=True)
    body = {
        "apiVersion": f"{group}/{version}",
        "kind": kind,
        "metadata": {"name": "x"},
        "spec": {"anything": {"nested": [1, 2]}},
        "status": {"ignored": True},
    }
    created = await cluster.create(body)
    assert created["spec"] == {"anything": {"nested": [1, 2]}} and "status" not in created
    _, doc = await get_json(cluster, f"/apis/{group}/{version}")
    assert {f"{plural}", f"{plural}/status"} <= {r["name"] for r in doc["resources"]}
