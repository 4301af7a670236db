"""KEDA ScaledObjects: one representative object whole, checked against KEDA's documented fields.

Team data holds no KEDA schema, so the structure is checked against a stand-in CRD written from
KEDA's ScaledObject specification and API types (``tests/support/crds``), closed-world: an unknown
field, a wrong type or a missing required field fails.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shared.builders import scaledobject
from tests.builders.factories import NAME, NAMESPACE, OWNER_REFERENCES, SETTINGS, VERSION, make_ms
from tests.support import crdschema, schemacheck

PROMETHEUS = "http://prometheus.monitoring.svc:9090"
DECODE_PODS = 'namespace="llm",job="llm/qwen3-0.6b-decode"'
"""The series of the decode PodMonitor (its job label is <namespace>/<PodMonitor name>)."""
KEDA: dict[str, Any] = {
    "engine": "keda",
    "minReplicas": 0,
    "maxReplicas": 4,
    "requestsWaiting": "2.5",
    "kvCacheUsage": "800m",
    "prometheusAddress": PROMETHEUS,
    "metrics": [{"name": "gateway_queue", "averageValue": 10, "query": 'sum(queue{pool="qwen3-0.6b"})'}],
}


def _built(scaling: dict[str, Any]) -> dict[str, Any]:
    built = scaledobject.build_decode_scaled_object(
        make_ms({"decode": {"replicas": None, "autoscaling": scaling}}), SETTINGS
    )
    assert built is not None
    return built


def test_keda_scales_the_decode_deployment_on_prometheus_queries_averaged_per_pod() -> None:
    assert _built(KEDA) == {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {
            "name": "qwen3-0.6b-decode",
            "namespace": NAMESPACE,
            "labels": {
                "app.kubernetes.io/name": NAME,
                "app.kubernetes.io/component": "model-decode",
                "app.kubernetes.io/part-of": "otterscale-system",
                "app.kubernetes.io/managed-by": "model-operator",
                "app.kubernetes.io/version": VERSION,
                "model.otterscale.io/modelservice": NAME,
            },
            "ownerReferences": OWNER_REFERENCES,
        },
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "qwen3-0.6b-decode"},
            "minReplicaCount": 0,
            "maxReplicaCount": 4,
            "triggers": [
                {
                    "type": "prometheus",
                    "name": "vllm_num_requests_waiting",
                    "metricType": "AverageValue",
                    "metadata": {
                        "serverAddress": PROMETHEUS,
                        "query": f"sum(vllm:num_requests_waiting{{{DECODE_PODS}}})",
                        "threshold": "2.5",
                    },
                },
                {
                    "type": "prometheus",
                    "name": "vllm_kv_cache_usage_perc",
                    "metricType": "AverageValue",
                    "metadata": {
                        "serverAddress": PROMETHEUS,
                        "query": f"sum(vllm:kv_cache_usage_perc{{{DECODE_PODS}}})",
                        "threshold": "0.8",
                    },
                },
                {
                    "type": "prometheus",
                    "name": "gateway_queue",
                    "metricType": "AverageValue",
                    "metadata": {
                        "serverAddress": PROMETHEUS,
                        "query": 'sum(queue{pool="qwen3-0.6b"})',
                        "threshold": "10",
                    },
                },
            ],
        },
    }


def test_the_structure_matches_kedas_documented_fields(team_data_dir: Path) -> None:
    assert schemacheck.validate_child(_built(KEDA), team_data_dir) == []


# The documented fields the check rests on: each mutation breaks one of them.
BREAKS: list[tuple[str, str, Any, str]] = [
    ("a misspelled replica bound", "maxReplicas", 4, "maxReplicas"),
    ("a threshold that is a number", "triggers.0.metadata.threshold", 2.5, "2.5"),
    ("an unknown metric type", "triggers.0.metricType", "Averaged", "Averaged"),
    ("a trigger without metadata", "triggers.0.metadata", None, "metadata"),
    ("no triggers", "triggers", None, "triggers"),
]


@pytest.mark.parametrize(("path", "value", "expected"), [b[1:] for b in BREAKS], ids=[b[0] for b in BREAKS])
def test_the_documented_fields_check_can_fail(path: str, value: Any, expected: str) -> None:
    obj = _built(KEDA)
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    target: Any = obj["spec"]
    for key in parents:
        target = target[key]
    if value is None:
        del target[last]
    else:
        target[last] = value
    errors = crdschema.validate_custom_resource(obj, schemacheck.STAND_IN_CRDS)
    assert any(expected in e for e in errors), errors


def test_prefill_gets_its_own_scaled_object_querying_its_own_pods() -> None:
    spec = {"prefill": {"autoscaling": KEDA | {"metrics": None}}}
    built = scaledobject.build_prefill_scaled_object(make_ms(spec), SETTINGS)
    assert built is not None
    assert built["spec"]["scaleTargetRef"]["name"] == "qwen3-0.6b-prefill"
    assert {t["metadata"]["query"] for t in built["spec"]["triggers"]} == {
        'sum(vllm:num_requests_waiting{namespace="llm",job="llm/qwen3-0.6b-prefill"})',
        'sum(vllm:kv_cache_usage_perc{namespace="llm",job="llm/qwen3-0.6b-prefill"})',
    }


@pytest.mark.parametrize(
    "spec",
    [{}, {"decode": {"autoscaling": {"maxReplicas": 2}}}],
    ids=["no autoscaling", "an HPA scales it"],
)
def test_no_scaled_object(spec: dict[str, Any]) -> None:
    assert scaledobject.build_decode_scaled_object(make_ms(spec), SETTINGS) is None
