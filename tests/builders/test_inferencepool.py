"""The InferencePool: default and explicit endpoint picker settings."""

from __future__ import annotations

from typing import Any

import pytest

from shared.builders import inferencepool
from tests.builders.factories import OWNER_REFERENCES, POOL_META_LABELS, SETTINGS, make_ms

POOL_SELECTOR = {
    "app.kubernetes.io/name": "qwen3-0.6b",
    "app.kubernetes.io/part-of": "otterscale-system",
    "app.kubernetes.io/managed-by": "model-operator",
    "llm-d.ai/inferenceServing": "true",
    "llm-d.ai/model": "qwen3-0.6b",
}


def test_worked_example_builds_the_default_pool() -> None:
    assert inferencepool.build_inference_pool(make_ms(), SETTINGS) == {
        "apiVersion": "inference.networking.k8s.io/v1",
        "kind": "InferencePool",
        "metadata": {
            "name": "qwen3-0.6b",
            "namespace": "llm",
            "labels": POOL_META_LABELS,
            "ownerReferences": OWNER_REFERENCES,
        },
        "spec": {
            "targetPorts": [{"number": 8000}],
            "selector": {"matchLabels": POOL_SELECTOR},
            "endpointPickerRef": {
                "group": "",
                "kind": "Service",
                "name": "qwen3-0-6b-epp",
                "port": {"number": 9002},
                "failureMode": "FailClose",
            },
        },
    }


@pytest.mark.parametrize(
    ("spec", "expected_port", "expected_mode"),
    [
        ({}, 9002, "FailClose"),
        ({"inferencePool": {"endpointPicker": {}}}, 9002, "FailOpen"),
        (
            {"inferencePool": {"endpointPicker": {"port": 9100, "failureMode": "FailClose"}}},
            9100,
            "FailClose",
        ),
    ],
    ids=[
        "default pool fails closed",
        "explicit pool takes the schema default FailOpen",
        "explicit port and mode",
    ],
)
def test_endpoint_picker_ref(spec: dict[str, Any], expected_port: int, expected_mode: str) -> None:
    built = inferencepool.build_inference_pool(make_ms(spec), SETTINGS)
    assert built is not None
    ref = built["spec"]["endpointPickerRef"]
    assert (ref["port"], ref["failureMode"]) == ({"number": expected_port}, expected_mode)


def test_target_port_is_the_engine_port_even_behind_the_routing_proxy() -> None:
    built = inferencepool.build_inference_pool(
        make_ms({"routingProxy": {}, "engine": {"port": 8080}}), SETTINGS
    )
    assert built is not None
    assert built["spec"]["targetPorts"] == [{"number": 8080}]
