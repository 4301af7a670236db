"""PodMonitors of the serving pods and their presence semantics."""

from __future__ import annotations

from typing import Any

import pytest

from shared.builders import podmonitor
from tests.builders.factories import OWNER_REFERENCES, SETTINGS, make_ms

DECODE_SELECTOR = {
    "app.kubernetes.io/name": "qwen3-0.6b",
    "app.kubernetes.io/component": "model-decode",
    "app.kubernetes.io/part-of": "otterscale-system",
    "app.kubernetes.io/managed-by": "model-operator",
    "llm-d.ai/inferenceServing": "true",
    "llm-d.ai/model": "qwen3-0.6b",
    "llm-d.ai/role": "decode",
}
RELABELING = {
    "action": "replace",
    "sourceLabels": ["__meta_kubernetes_pod_label_app_kubernetes_io_name"],
    "targetLabel": "model_service",
}


def test_worked_example_builds_the_decode_pod_monitor() -> None:
    assert podmonitor.build_decode_pod_monitor(make_ms(), SETTINGS) == {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": {
            "name": "qwen3-0.6b-decode",
            "namespace": "llm",
            "labels": {
                "app.kubernetes.io/name": "qwen3-0.6b",
                "app.kubernetes.io/component": "model-decode",
                "app.kubernetes.io/part-of": "otterscale-system",
                "app.kubernetes.io/managed-by": "model-operator",
                "app.kubernetes.io/version": "v1.0.1",
                "model.otterscale.io/modelservice": "qwen3-0.6b",
            },
            "ownerReferences": OWNER_REFERENCES,
        },
        "spec": {
            "selector": {"matchLabels": DECODE_SELECTOR},
            "podMetricsEndpoints": [
                {"port": "http", "path": "/metrics", "interval": "30s", "relabelings": [RELABELING]}
            ],
        },
    }


def test_prefill_pod_monitor_selects_prefill_pods() -> None:
    built = podmonitor.build_prefill_pod_monitor(make_ms({"prefill": {}}), SETTINGS)
    assert built is not None
    assert built["metadata"]["name"] == "qwen3-0.6b-prefill"
    assert built["spec"]["selector"]["matchLabels"] == DECODE_SELECTOR | {
        "app.kubernetes.io/component": "model-prefill",
        "llm-d.ai/role": "prefill",
    }


@pytest.mark.parametrize(
    ("monitoring", "prefill", "expected"),
    [
        (None, False, (True, False)),
        (None, True, (True, True)),
        ({}, True, (True, True)),
        ({"podMonitor": {}}, True, (False, False)),
        ({"podMonitor": {"enabled": False}}, True, (False, False)),
        ({"podMonitor": {"enabled": True}}, True, (True, True)),
        ({"podMonitor": {"enabled": True}}, False, (True, False)),
    ],
    ids=[
        "monitoring absent keeps decode on",
        "monitoring absent with prefill",
        "podMonitor absent keeps them on",
        "podMonitor present without enabled turns them off",
        "enabled false turns them off",
        "enabled true",
        "enabled true without prefill has no prefill monitor",
    ],
)
def test_pod_monitor_presence(
    monitoring: dict[str, Any] | None, prefill: bool, expected: tuple[bool, bool]
) -> None:
    spec: dict[str, Any] = {"prefill": {}} if prefill else {}
    if monitoring is not None:
        spec["monitoring"] = monitoring
    ms = make_ms(spec)
    decode = podmonitor.build_decode_pod_monitor(ms, SETTINGS)
    prefill_monitor = podmonitor.build_prefill_pod_monitor(ms, SETTINGS)
    assert (decode is not None, prefill_monitor is not None) == expected


@pytest.mark.parametrize(
    ("pod_monitor", "expected"),
    [
        ({"enabled": True, "portName": "metrics", "path": "/m", "interval": "15s"}, ("metrics", "/m", "15s")),
        ({"enabled": True, "portName": "", "path": "", "interval": ""}, ("http", "/metrics", "30s")),
    ],
    ids=["explicit endpoint", "empty values fall back"],
)
def test_endpoint_settings(pod_monitor: dict[str, Any], expected: tuple[str, str, str]) -> None:
    built = podmonitor.build_decode_pod_monitor(
        make_ms({"monitoring": {"podMonitor": pod_monitor}}), SETTINGS
    )
    assert built is not None
    endpoint = built["spec"]["podMetricsEndpoints"][0]
    assert (endpoint["port"], endpoint["path"], endpoint["interval"]) == expected
