"""The control plane behaves as a real cluster does for what the operator depends on."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from testbed import ControlPlane
from testbed.controlplane import DEFAULT_NODES, KWOK_CUSTOM_STATUS_ANNOTATION, ApiError
from testbed.processes import wait_for

Manifest = dict[str, Any]


def _pods(cp: ControlPlane, namespace: str, selector: str = "") -> list[Manifest]:
    query = f"?labelSelector={selector}" if selector else ""
    items: list[Manifest] = cp.api("GET", f"/api/v1/namespaces/{namespace}/pods{query}")["items"]
    return items


def _deployment(name: str, replicas: int, limits: dict[str, str] | None = None) -> Manifest:
    container: Manifest = {"name": "main", "image": "registry.example.com/app:1"}
    if limits:
        container["resources"] = {"limits": limits}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "initContainers": [{"name": "unpack", "image": "registry.example.com/unpack:1"}],
                    "containers": [container],
                },
            },
        },
    }


def test_fake_nodes_advertise_gpus_and_are_ready(control_plane: ControlPlane) -> None:
    nodes = {n["metadata"]["name"]: n for n in control_plane.api("GET", "/api/v1/nodes")["items"]}
    assert set(nodes) == {n.name for n in DEFAULT_NODES}
    assert nodes["gpu-nvidia-0"]["status"]["allocatable"]["nvidia.com/gpu"] == "8"
    assert nodes["gpu-amd-0"]["status"]["allocatable"]["amd.com/gpu"] == "8"
    assert "nvidia.com/gpu" not in nodes["cpu-0"]["status"]["allocatable"]
    for node in nodes.values():
        ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
        assert ready[0]["status"] == "True"
        assert not node["spec"].get("taints"), "the not-ready taint is removed once KWOK reports Ready"


def test_a_new_namespace_has_what_a_real_one_has(control_plane: ControlPlane, namespace: str) -> None:
    control_plane.api("GET", f"/api/v1/namespaces/{namespace}/serviceaccounts/default")
    wait_for(
        lambda: _exists(control_plane, f"/api/v1/namespaces/{namespace}/configmaps/kube-root-ca.crt"),
        timeout=30,
        what="kube-root-ca.crt",
    )
    # Kinds without a generation have none; server-side apply records managed fields.
    cm = control_plane.api(
        "PATCH",
        f"/api/v1/namespaces/{namespace}/configmaps/applied?fieldManager=test&force=true",
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"}, "data": {"a": "1"}},
        content_type="application/apply-patch+yaml",
    )
    assert "generation" not in cm["metadata"]
    assert cm["metadata"]["managedFields"][0]["manager"] == "test"


def _exists(cp: ControlPlane, path: str) -> bool | None:
    try:
        cp.api("GET", path)
    except ApiError as e:
        if e.code == 404:
            return None
        raise
    return True


def test_deployments_get_replicasets_and_pods_that_kwok_runs(
    control_plane: ControlPlane, namespace: str
) -> None:
    control_plane.api("POST", f"/apis/apps/v1/namespaces/{namespace}/deployments", _deployment("web", 2))

    def available() -> Manifest | None:
        d = control_plane.api("GET", f"/apis/apps/v1/namespaces/{namespace}/deployments/web")
        return d if d.get("status", {}).get("availableReplicas") == 2 else None

    wait_for(available, timeout=60, what="two available replicas", explain=lambda: control_plane.logs(5))
    pods = _pods(control_plane, namespace, "app=web")
    assert len(pods) == 2
    for pod in pods:
        assert pod["status"]["phase"] == "Running"
        assert pod["spec"]["nodeName"]
        init = pod["status"]["initContainerStatuses"][0]
        assert init["state"]["terminated"]["reason"] == "Completed"
    rs = control_plane.api("GET", f"/apis/apps/v1/namespaces/{namespace}/replicasets")["items"]
    assert [r["metadata"]["ownerReferences"][0]["name"] for r in rs] == ["web"]
    scale = control_plane.api("GET", f"/apis/apps/v1/namespaces/{namespace}/deployments/web/scale")
    assert scale["spec"]["replicas"] == 2


def test_a_pod_asking_for_more_gpus_than_any_node_has_stays_pending_with_the_schedulers_words(
    control_plane: ControlPlane, namespace: str
) -> None:
    control_plane.api(
        "POST",
        f"/apis/apps/v1/namespaces/{namespace}/deployments",
        _deployment("big", 1, {"nvidia.com/gpu": "16"}),
    )

    def unschedulable() -> str | None:
        for pod in _pods(control_plane, namespace, "app=big"):
            for c in pod.get("status", {}).get("conditions") or []:
                if c["type"] == "PodScheduled" and c.get("reason") == "Unschedulable":
                    return str(c["message"])
        return None

    message = wait_for(unschedulable, timeout=60, what="the scheduler's verdict")
    assert "Insufficient nvidia.com/gpu" in message


def test_kwok_leaves_a_pod_marked_custom_to_the_test(control_plane: ControlPlane, namespace: str) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "custom", "annotations": {KWOK_CUSTOM_STATUS_ANNOTATION: "custom"}},
        "spec": {
            "nodeName": "cpu-0",
            "containers": [{"name": "main", "image": "registry.example.com/app:1"}],
        },
    }
    control_plane.api("POST", f"/api/v1/namespaces/{namespace}/pods", pod)
    waiting = {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}}
    status = {
        "phase": "Pending",
        "containerStatuses": [
            {
                "name": "main",
                "image": "registry.example.com/app:1",
                "imageID": "",
                "ready": False,
                "restartCount": 0,
                "state": waiting,
            }
        ],
    }
    control_plane.api(
        "PATCH",
        f"/api/v1/namespaces/{namespace}/pods/custom/status",
        {"status": status},
        content_type="application/merge-patch+json",
    )
    # A managed pod on the same node is Running well within this time; this one keeps our words.
    control_plane.api("POST", f"/apis/apps/v1/namespaces/{namespace}/deployments", _deployment("probe", 1))
    wait_for(
        lambda: (
            any(p["status"].get("phase") == "Running" for p in _pods(control_plane, namespace, "app=probe"))
            or None
        ),
        timeout=60,
        what="a managed pod to run",
    )
    got = control_plane.api("GET", f"/api/v1/namespaces/{namespace}/pods/custom")["status"]
    assert got["containerStatuses"][0]["state"] == waiting


def test_kubectl_is_the_built_one_and_speaks_server_side_apply(
    control_plane: ControlPlane, namespace: str
) -> None:
    version = json.loads(control_plane.kubectl("version", "-o", "json").stdout)
    assert version["clientVersion"]["gitVersion"] == version["serverVersion"]["gitVersion"] == "v1.36.3"
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "by-kubectl", "namespace": namespace}}
    out = control_plane.kubectl("apply", "--server-side", "-f", "-", stdin=yaml.safe_dump(cm))
    assert "serverside-applied" in out.stdout


def test_a_service_account_token_is_judged_by_rbac(
    control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    kubeconfig = control_plane.service_account_kubeconfig(namespace, "default", tmp_path / "sa.kubeconfig")
    token = yaml.safe_load(kubeconfig.read_text())["users"][0]["user"]["token"]
    request = urllib.request.Request(
        f"{control_plane.url}/api/v1/namespaces/{namespace}/secrets",
        headers={"Authorization": f"Bearer {token}"},
    )
    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(request, context=_trusting(control_plane), timeout=10)
    assert denied.value.code == 403
    assert f"system:serviceaccount:{namespace}:default" in denied.value.read().decode()


def _trusting(cp: ControlPlane) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cp.ca_file))
