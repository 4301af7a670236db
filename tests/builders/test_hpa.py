"""HorizontalPodAutoscalers: one representative object whole, the variants as tables."""

from __future__ import annotations

from typing import Any

import pytest

from shared.builders import hpa
from tests.builders.factories import NAME, NAMESPACE, OWNER_REFERENCES, SETTINGS, VERSION, make_ms

DECODE_LABELS = {
    "app.kubernetes.io/name": NAME,
    "app.kubernetes.io/component": "model-decode",
    "app.kubernetes.io/part-of": "otterscale-system",
    "app.kubernetes.io/managed-by": "model-operator",
    "app.kubernetes.io/version": VERSION,
    "model.otterscale.io/modelservice": NAME,
}


def _scaled(scaling: dict[str, Any], role: str = "decode") -> dict[str, Any]:
    return {role: {"replicas": None, "autoscaling": scaling}}


def test_an_autoscaled_decode_group_gets_an_hpa_on_vllm_metrics_targeting_its_deployment() -> None:
    scaling = {"minReplicas": 2, "maxReplicas": 8, "requestsWaiting": 5, "kvCacheUsage": "0.8"}
    built = hpa.build_decode_hpa(make_ms(_scaled(scaling)), SETTINGS)
    assert built == {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {
            "name": "qwen3-0.6b-decode",
            "namespace": NAMESPACE,
            "labels": DECODE_LABELS,
            "ownerReferences": OWNER_REFERENCES,
        },
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "qwen3-0.6b-decode"},
            "minReplicas": 2,
            "maxReplicas": 8,
            "metrics": [
                {
                    "type": "Pods",
                    "pods": {
                        "metric": {"name": "vllm_num_requests_waiting"},
                        "target": {"type": "AverageValue", "averageValue": "5"},
                    },
                },
                {
                    "type": "Pods",
                    "pods": {
                        "metric": {"name": "vllm_kv_cache_usage_perc"},
                        "target": {"type": "AverageValue", "averageValue": "800m"},
                    },
                },
            ],
        },
    }


def test_a_metric_of_your_own_comes_after_the_built_in_ones_under_its_own_name() -> None:
    scaling = {
        "maxReplicas": 3,
        "kvCacheUsage": 1,
        "metrics": [{"name": "tokens_per_second", "averageValue": 1500}],
    }
    built = hpa.build_decode_hpa(make_ms(_scaled(scaling)), SETTINGS)
    assert built is not None
    assert [
        (m["pods"]["metric"]["name"], m["pods"]["target"]["averageValue"]) for m in built["spec"]["metrics"]
    ] == [
        ("vllm_kv_cache_usage_perc", "1"),
        ("tokens_per_second", "1500"),
    ]
    assert built["spec"]["minReplicas"] == 1  # the schema default


def test_prefill_gets_its_own_hpa_labelled_as_prefill() -> None:
    spec = {"prefill": {"replicas": None, "autoscaling": {"maxReplicas": 2, "requestsWaiting": 3}}}
    built = hpa.build_prefill_hpa(make_ms(spec), SETTINGS)
    assert built is not None
    assert built["metadata"]["name"] == "qwen3-0.6b-prefill"
    assert built["metadata"]["labels"]["app.kubernetes.io/component"] == "model-prefill"
    assert built["spec"]["scaleTargetRef"]["name"] == "qwen3-0.6b-prefill"


NONE_CASES: list[tuple[str, dict[str, Any]]] = [
    ("no autoscaling", {}),
    ("keda scales it", _scaled({"engine": "keda", "maxReplicas": 2})),
    ("only prefill autoscales", {"prefill": {"autoscaling": {"maxReplicas": 2}}}),
]


@pytest.mark.parametrize("spec", [c[1] for c in NONE_CASES], ids=[c[0] for c in NONE_CASES])
def test_no_decode_hpa(spec: dict[str, Any]) -> None:
    assert hpa.build_decode_hpa(make_ms(spec), SETTINGS) is None


def test_no_prefill_hpa_without_prefill() -> None:
    assert hpa.build_prefill_hpa(make_ms(_scaled({"maxReplicas": 2})), SETTINGS) is None
