"""Realistic AdmissionReview bodies for the webhook benchmark: minimal, full PD, invalid, update."""

from __future__ import annotations

import copy
import json
from typing import Any

MINIMAL: dict[str, Any] = {
    "apiVersion": "model.otterscale.io/v1alpha1",
    "kind": "ModelService",
    "metadata": {"name": "qwen3-0.6b", "namespace": "llm", "uid": "5f0c6f6e-1b39-4c1e-9d1e-3f5d2a6c7b10"},
    "spec": {
        "model": {"name": "Qwen/Qwen3-0.6B", "image": "harbor.local/models/qwen3:0.6b"},
        "engine": {},
        "accelerator": {"type": "nvidia"},
        "decode": {},
    },
}

FULL_PD: dict[str, Any] = {
    "apiVersion": "model.otterscale.io/v1alpha1",
    "kind": "ModelService",
    "metadata": {
        "name": "llama-3-70b-instruct",
        "namespace": "team-a",
        "uid": "8a4c1f7e-2d0b-4e55-b0a3-6f9d1c2e3b44",
        "labels": {"team": "a", "tier": "prod"},
        "annotations": {"owner": "ml-platform@example.com"},
    },
    "spec": {
        "model": {
            "name": "meta-llama/Llama-3.3-70B-Instruct",
            "image": "harbor.local/models/llama-3.3-70b-instruct:v1",
            "imagePullSecrets": [{"name": "harbor-pull"}],
        },
        "engine": {
            "imagePullPolicy": "IfNotPresent",
            "args": [
                "--max-model-len",
                "32768",
                "--gpu-memory-utilization",
                "0.92",
                "--enable-prefix-caching",
            ],
            "env": [
                {"name": "VLLM_NIXL_SIDE_CHANNEL_PORT", "value": "5600"},
                {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf", "key": "token"}}},
                {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            ],
        },
        "accelerator": {"type": "nvidia"},
        "decode": {
            "replicas": 2,
            "parallelism": {"tensor": 4},
            "resources": {"requests": {"cpu": "16", "memory": "128Gi"}, "limits": {"memory": "160Gi"}},
            "nodeSelector": {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"},
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
            "annotations": {"sidecar.istio.io/inject": "false"},
        },
        "prefill": {
            "replicas": 4,
            "parallelism": {"tensor": 2},
            "resources": {"requests": {"cpu": "8", "memory": "64Gi"}},
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        },
        "routingProxy": {"connector": "nixlv2", "zapLogLevel": "info"},
        "inferencePool": {"endpointPicker": {"replicas": 2}},
        "httpRoute": {
            "gatewayRef": {"name": "inference-gateway", "namespace": "gateways"},
            "hostnames": ["llm.example.com"],
        },
        "monitoring": {"podMonitor": {"enabled": True, "interval": "15s"}},
    },
}

INVALID: dict[str, Any] = copy.deepcopy(FULL_PD)
INVALID["spec"]["engine"]["port"] = 70000
INVALID["spec"]["engine"]["args"] = ["--port=9000", "--served-model-name", "x"]
INVALID["spec"]["decode"]["replicas"] = -1
INVALID["spec"]["engine"]["prot"] = 1
del INVALID["spec"]["routingProxy"]


def review(obj: dict[str, Any], operation: str = "CREATE", old: dict[str, Any] | None = None) -> bytes:
    request: dict[str, Any] = {
        "uid": "0d8f3a6e-7c2b-4b1a-9e55-1f2a3b4c5d6e",
        "kind": {"group": "model.otterscale.io", "version": "v1alpha1", "kind": "ModelService"},
        "resource": {"group": "model.otterscale.io", "version": "v1alpha1", "resource": "modelservices"},
        "requestKind": {"group": "model.otterscale.io", "version": "v1alpha1", "kind": "ModelService"},
        "requestResource": {
            "group": "model.otterscale.io",
            "version": "v1alpha1",
            "resource": "modelservices",
        },
        "name": obj["metadata"]["name"],
        "namespace": obj["metadata"]["namespace"],
        "operation": operation,
        "userInfo": {"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]},
        "object": obj,
        "oldObject": old,
        "dryRun": False,
        "options": {
            "apiVersion": "meta.k8s.io/v1",
            "kind": "CreateOptions",
            "fieldManager": "kubectl-client-side-apply",
        },
    }
    return json.dumps(
        {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
    ).encode()


def _updated() -> dict[str, Any]:
    new = copy.deepcopy(FULL_PD)
    new["spec"]["decode"]["replicas"] = 3
    new["spec"]["engine"]["args"] = [*new["spec"]["engine"]["args"], "--max-num-seqs", "256"]
    return new


DISTINCT = 4096
"""Variants in a `-distinct` or `-fresh` scenario: more than the webhook remembers, sent in turn."""


def _named(obj: dict[str, Any], i: int) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    out["metadata"]["name"] = f"{obj['metadata']['name']}-{i}"
    return out


def _fresh(obj: dict[str, Any], i: int) -> dict[str, Any]:
    """A new name and a spec seen nowhere else (its model name differs)."""
    out = _named(obj, i)
    out["spec"]["model"]["name"] = f"{obj['spec']['model']['name']}-{i}"
    return out


SCENARIOS: dict[str, tuple[str, list[bytes]]] = {
    "mutate-minimal": ("/mutate", [review(MINIMAL)]),
    "mutate-full-pd": ("/mutate", [review(FULL_PD)]),
    "validate-full-pd": ("/validate", [review(FULL_PD)]),
    "validate-invalid": ("/validate", [review(INVALID)]),
    "validate-update-restart": ("/validate", [review(_updated(), "UPDATE", FULL_PD)]),
    # The same spec under a different name each time, as a template stamps out many services: no
    # whole answer is remembered, the spec's verdict is; names, envelope and answer are new.
    "validate-full-pd-distinct": ("/validate", [review(_named(FULL_PD, i)) for i in range(DISTINCT)]),
    "validate-invalid-distinct": ("/validate", [review(_named(INVALID, i)) for i in range(DISTINCT)]),
    "validate-update-restart-distinct": (
        "/validate",
        [review(_named(_updated(), i), "UPDATE", _named(FULL_PD, i)) for i in range(DISTINCT)],
    ),
    # Every request new in its spec too: judged from scratch, nothing remembered helps.
    "validate-full-pd-fresh": ("/validate", [review(_fresh(FULL_PD, i)) for i in range(DISTINCT)]),
    "validate-invalid-fresh": ("/validate", [review(_fresh(INVALID, i)) for i in range(DISTINCT)]),
    "validate-update-restart-fresh": (
        "/validate",
        [review(_fresh(_updated(), i), "UPDATE", _fresh(FULL_PD, i)) for i in range(DISTINCT)],
    ),
}
