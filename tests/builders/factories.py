"""ModelServices for builder tests: the spec's worked example plus deep-merged variations."""

from __future__ import annotations

import copy
from typing import Any

from shared.api import ModelService
from shared.settings import OperatorSettings

NAME = "qwen3-0.6b"
NAMESPACE = "llm"
UID = "U"
EPP = "qwen3-0-6b-epp"
VERSION = "v1.0.1"

SETTINGS = OperatorSettings(version=VERSION)
"""Operator settings at their defaults, with the worked example's build version."""

EXAMPLE_SPEC: dict[str, Any] = {
    "model": {"name": "Qwen/Qwen3-0.6B", "image": "harbor.local/models/qwen3:0.6b", "mountPath": "/models"},
    "engine": {"port": 8000},
    "accelerator": {"type": "nvidia"},
    "decode": {"replicas": 1},
}
"""children.md §18: the worked example after schema defaulting."""

PD_VARIANT: dict[str, Any] = {
    "routingProxy": {"connector": "nixlv2", "targetPort": 8200},
    "prefill": {"replicas": 1},
}
"""children.md §18 variant: routing proxy plus prefill pods."""


def merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Deep merge; a None value in ``update`` removes the key."""
    result = copy.deepcopy(base)
    for key, value in update.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def make_ms(
    spec: dict[str, Any] | None = None,
    *,
    name: str = NAME,
    namespace: str = NAMESPACE,
    uid: str = UID,
    annotations: dict[str, str] | None = None,
) -> ModelService:
    """The worked example with ``spec`` deep-merged over it."""
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "uid": uid}
    if annotations is not None:
        metadata["annotations"] = annotations
    return ModelService.model_validate({"metadata": metadata, "spec": merge(EXAMPLE_SPEC, spec or {})})


def settings(**changes: Any) -> OperatorSettings:
    """The example's operator settings with ``changes`` applied (validated)."""
    return OperatorSettings.model_validate(SETTINGS.model_dump() | changes)


# Expected values written out literally (never computed with the code under test).
OWNER_REFERENCES = [
    {
        "apiVersion": "model.otterscale.io/v1alpha1",
        "kind": "ModelService",
        "name": NAME,
        "uid": UID,
        "controller": True,
        "blockOwnerDeletion": True,
    }
]
EPP_SELECTOR = {
    "app.kubernetes.io/name": EPP,
    "app.kubernetes.io/component": "epp",
    "app.kubernetes.io/part-of": "otterscale-system",
    "app.kubernetes.io/managed-by": "model-operator",
}
EPP_META_LABELS = EPP_SELECTOR | {
    "app.kubernetes.io/version": VERSION,
    "model.otterscale.io/modelservice": NAME,
}
EPP_META = {
    "name": EPP,
    "namespace": NAMESPACE,
    "labels": EPP_META_LABELS,
    "ownerReferences": OWNER_REFERENCES,
}
POOL_META_LABELS = {
    "app.kubernetes.io/name": NAME,
    "app.kubernetes.io/component": "epp",
    "app.kubernetes.io/part-of": "otterscale-system",
    "app.kubernetes.io/managed-by": "model-operator",
    "app.kubernetes.io/version": VERSION,
    "model.otterscale.io/modelservice": NAME,
}
