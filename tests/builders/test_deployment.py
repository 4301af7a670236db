"""Serving Deployments: the worked example and its PD variant as whole objects, variants as tables."""

from __future__ import annotations

from typing import Any

import pytest

from shared.builders import deployment
from shared.names import Role
from tests.builders.factories import PD_VARIANT, SETTINGS, make_ms, settings

UNPACK_SCRIPT = (
    "set -euo pipefail\n"
    'export KITOPS_HOME="${KITOPS_HOME:-/tmp/model-oci}"\n'
    'mkdir -p "$KITOPS_HOME"\n'
    'kit unpack "$OCI_MODEL_IMAGE" -o -d "$MODEL_MOUNT_PATH"\n'
)
OWNER = {
    "apiVersion": "model.otterscale.io/v1alpha1",
    "kind": "ModelService",
    "name": "qwen3-0.6b",
    "uid": "U",
    "controller": True,
    "blockOwnerDeletion": True,
}
DROP_ALL = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
PROBES = {
    "startupProbe": {
        "httpGet": {"path": "/health", "port": "http"},
        "periodSeconds": 10,
        "timeoutSeconds": 5,
        "failureThreshold": 360,
    },
    "readinessProbe": {
        "httpGet": {"path": "/health", "port": "http"},
        "periodSeconds": 5,
        "timeoutSeconds": 5,
        "failureThreshold": 3,
    },
    "livenessProbe": {
        "httpGet": {"path": "/health", "port": "http"},
        "periodSeconds": 10,
        "timeoutSeconds": 5,
        "failureThreshold": 6,
    },
}
UNPACK_CONTAINER = {
    "name": "model-unpack",
    "image": "ghcr.io/kitops-ml/kitops:v1.11.0",
    "command": ["/bin/sh", "-c"],
    "args": [UNPACK_SCRIPT],
    "env": [
        {"name": "OCI_MODEL_IMAGE", "value": "harbor.local/models/qwen3:0.6b"},
        {"name": "MODEL_MOUNT_PATH", "value": "/models"},
        {"name": "KITOPS_HOME", "value": "/tmp/model-oci"},
    ],
    "volumeMounts": [
        {"name": "model-tmp", "mountPath": "/tmp/model-oci"},
        {"name": "model", "mountPath": "/models"},
    ],
    "securityContext": DROP_ALL,
}


def _vllm(port: int) -> dict[str, Any]:
    return {
        "name": "vllm",
        "image": "ghcr.io/llm-d/llm-d-cuda:v0.5.1",
        "command": ["vllm", "serve"],
        "args": ["/models", "--port", str(port), "--served-model-name", "Qwen/Qwen3-0.6B"],
        "env": [
            {"name": "TP_SIZE", "value": "1"},
            {"name": "DP_SIZE", "value": "1"},
            {"name": "DP_SIZE_LOCAL", "value": "1"},
        ],
        "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
        "volumeMounts": [{"name": "model", "mountPath": "/models", "readOnly": True}],
        "resources": {"limits": {"nvidia.com/gpu": "1"}, "requests": {"nvidia.com/gpu": "1"}},
        "securityContext": DROP_ALL,
        **PROBES,
    }


def _expected(role: str, component: str, init: list[dict[str, Any]], port: int) -> dict[str, Any]:
    selector = {
        "app.kubernetes.io/name": "qwen3-0.6b",
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": "otterscale-system",
        "app.kubernetes.io/managed-by": "model-operator",
        "llm-d.ai/inferenceServing": "true",
        "llm-d.ai/model": "qwen3-0.6b",
        "llm-d.ai/role": role,
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": f"qwen3-0.6b-{role}",
            "namespace": "llm",
            "labels": {
                "app.kubernetes.io/name": "qwen3-0.6b",
                "app.kubernetes.io/component": component,
                "app.kubernetes.io/part-of": "otterscale-system",
                "app.kubernetes.io/managed-by": "model-operator",
                "app.kubernetes.io/version": "v1.0.1",
                "model.otterscale.io/modelservice": "qwen3-0.6b",
            },
            "ownerReferences": [OWNER],
        },
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": selector},
            # Pods with accelerators replace one at a time; no spare GPU is ever needed.
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}},
            "template": {
                "metadata": {"labels": selector},
                "spec": {
                    "automountServiceAccountToken": False,
                    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                    "initContainers": init,
                    "containers": [_vllm(port)],
                    "volumes": [{"name": "model", "emptyDir": {}}, {"name": "model-tmp", "emptyDir": {}}],
                },
            },
        },
    }


ROUTING_PROXY = {
    "name": "routing-proxy",
    "image": "ghcr.io/llm-d/llm-d-routing-sidecar:v0.6.0",
    "args": ["--port", "8000", "--vllm-port", "8200", "--connector", "nixlv2", "--secure-proxy=false"],
    "ports": [{"name": "proxy", "containerPort": 8000, "protocol": "TCP"}],
    "restartPolicy": "Always",
    "securityContext": DROP_ALL,
}


def test_worked_example_builds_the_reference_decode_deployment() -> None:
    expected = _expected("decode", "model-decode", [UNPACK_CONTAINER], 8000)
    assert deployment.build_decode_deployment(make_ms(), SETTINGS) == expected


def test_pd_variant_decode_deployment_runs_the_routing_proxy_in_front_of_vllm() -> None:
    expected = _expected("decode", "model-decode", [UNPACK_CONTAINER, ROUTING_PROXY], 8200)
    assert deployment.build_decode_deployment(make_ms(PD_VARIANT), SETTINGS) == expected


def test_pd_variant_prefill_deployment_has_no_proxy_and_serves_on_the_engine_port() -> None:
    expected = _expected("prefill", "model-prefill", [UNPACK_CONTAINER], 8000)
    assert deployment.build_prefill_deployment(make_ms(PD_VARIANT), SETTINGS) == expected


def test_prefill_absent_builds_no_prefill_deployment() -> None:
    assert deployment.build_prefill_deployment(make_ms(), SETTINGS) is None


@pytest.mark.parametrize("role", ["decode", "prefill"], ids=["decode", "prefill"])
def test_operator_version_stays_out_of_pod_templates_and_selectors(role: Role) -> None:
    built = deployment.build_serving_deployment(make_ms(PD_VARIANT), settings(version="v9.9.9"), role)
    assert built is not None
    assert built["metadata"]["labels"]["app.kubernetes.io/version"] == "v9.9.9"
    assert "app.kubernetes.io/version" not in built["spec"]["template"]["metadata"]["labels"]
    assert "app.kubernetes.io/version" not in built["spec"]["selector"]["matchLabels"]


def test_operator_upgrade_leaves_the_pod_template_unchanged() -> None:
    old = deployment.build_decode_deployment(make_ms(), settings(version="v1.0.1"))
    new = deployment.build_decode_deployment(make_ms(), settings(version="v1.1.0"))
    assert old is not None and new is not None
    assert old["spec"]["template"] == new["spec"]["template"]
    assert old["metadata"]["labels"] != new["metadata"]["labels"]


@pytest.mark.parametrize(
    ("spec", "key", "expected"),
    [
        ({"decode": {"annotations": {"a": "b"}}}, "annotations", {"a": "b"}),
        ({"decode": {"annotations": {}}}, "annotations", None),
    ],
    ids=["role annotations are copied to the pod template", "empty annotations are omitted"],
)
def test_pod_template_annotations(spec: dict[str, Any], key: str, expected: Any) -> None:
    built = deployment.build_decode_deployment(make_ms(spec), SETTINGS)
    assert built is not None
    assert built["spec"]["template"]["metadata"].get(key) == expected


def test_scheduling_fields_and_replicas_come_from_the_role() -> None:
    spec = {
        "decode": {
            "replicas": 3,
            "nodeSelector": {"gpu": "h100"},
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        }
    }
    built = deployment.build_decode_deployment(make_ms(spec), SETTINGS)
    assert built is not None
    pod = built["spec"]["template"]["spec"]
    assert built["spec"]["replicas"] == 3
    assert pod["nodeSelector"] == {"gpu": "h100"}
    assert pod["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]


def test_pull_secrets_are_set_on_the_pod_and_mounted_for_kit() -> None:
    spec = {"model": {"imagePullSecrets": [{"name": "regcred"}, {"name": "other"}]}}
    built = deployment.build_decode_deployment(make_ms(spec), SETTINGS)
    assert built is not None
    pod = built["spec"]["template"]["spec"]
    assert pod["imagePullSecrets"] == [{"name": "regcred"}, {"name": "other"}]
    assert pod["volumes"][2] == {
        "name": "docker-config",
        "secret": {"secretName": "regcred", "items": [{"key": ".dockerconfigjson", "path": "config.json"}]},
    }


@pytest.mark.parametrize(
    ("kit_image", "expected_init"),
    [("", []), ("ghcr.io/kitops-ml/kitops:v1.11.0", ["model-unpack"])],
    ids=["empty kit image drops the unpack container", "kit image adds it"],
)
def test_init_containers_follow_the_kit_image(kit_image: str, expected_init: list[str]) -> None:
    built = deployment.build_decode_deployment(make_ms(), settings(kit_image=kit_image))
    assert built is not None
    pod = built["spec"]["template"]["spec"]
    assert [c["name"] for c in pod.get("initContainers", [])] == expected_init
    assert [v["name"] for v in pod["volumes"]] == ["model", "model-tmp"]


def test_deployment_without_uid_has_no_owner_reference() -> None:
    built = deployment.build_decode_deployment(make_ms(uid=""), SETTINGS)
    assert built is not None
    assert "ownerReferences" not in built["metadata"]
