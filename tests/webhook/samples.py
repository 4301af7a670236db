"""ModelService manifests and AdmissionReview bodies for the webhook and validation tests."""

from __future__ import annotations

import copy
from typing import Any

API_VERSION = "admission.k8s.io/v1"


def minimal() -> dict[str, Any]:
    """The smallest valid ModelService, as a user writes it."""
    return {
        "apiVersion": "model.otterscale.io/v1alpha1",
        "kind": "ModelService",
        "metadata": {"name": "qwen3-0.6b", "namespace": "llm"},
        "spec": {
            "model": {"name": "Qwen/Qwen3-0.6B", "image": "harbor.local/models/qwen3:0.6b"},
            "engine": {},
            "accelerator": {"type": "nvidia"},
            "decode": {},
        },
    }


def full_pd() -> dict[str, Any]:
    """A valid prefill/decode ModelService with every section set."""
    ms = minimal()
    ms["spec"].update(
        {
            "engine": {
                "args": ["--max-model-len", "4096"],
                "env": [
                    {"name": "VLLM_NIXL_SIDE_CHANNEL_PORT", "value": "5600"},
                    {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf", "key": "token"}}},
                ],
            },
            "decode": {
                "replicas": 2,
                "parallelism": {"tensor": 2},
                "resources": {"requests": {"cpu": "4", "memory": "16Gi"}, "limits": {"memory": "32Gi"}},
                "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
            },
            "prefill": {"replicas": 1},
            "routingProxy": {},
            "inferencePool": {"endpointPicker": {"replicas": 2}},
            "httpRoute": {"gatewayRef": {"name": "gw"}, "hostnames": ["llm.example.com"]},
            "monitoring": {"podMonitor": {"enabled": True, "interval": "1m30s"}},
        }
    )
    return ms


def with_changes(ms: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of `ms` with `value` at dotted `path` (`spec.engine.args`); `...` deletes the key."""
    out = copy.deepcopy(ms)
    *parents, last = path.split(".")
    node = out
    for part in parents:
        node = node.setdefault(part, {})
    if value is ...:
        node.pop(last, None)
    else:
        node[last] = value
    return out


def review(
    obj: dict[str, Any] | None,
    operation: str = "CREATE",
    old: dict[str, Any] | None = None,
    uid: str = "uid-1",
    **extra: Any,
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "uid": uid,
        "kind": {"group": "model.otterscale.io", "version": "v1alpha1", "kind": "ModelService"},
        "resource": {"group": "model.otterscale.io", "version": "v1alpha1", "resource": "modelservices"},
        "operation": operation,
        "namespace": "llm",
        **extra,
    }
    if obj is not None:
        request["object"] = obj
        meta = obj.get("metadata")
        request["name"] = meta.get("name", "") if isinstance(meta, dict) else ""
    if old is not None:
        request["oldObject"] = old
    return {"apiVersion": API_VERSION, "kind": "AdmissionReview", "request": request}
