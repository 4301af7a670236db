"""Every generated child conforms to the Kubernetes and upstream CRD schemas.

The harness (``tests.support.schemacheck``) is exercised both ways: every object built from a table
of representative ModelServices (and from every example in ``examples/``) must pass, and a
deliberately broken object must fail on each validation path, so a harness that silently accepts
everything cannot go unnoticed.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.api import ModelService
from shared.builders import build_all
from shared.settings import OperatorSettings
from tests.builders.factories import PD_VARIANT, make_ms, settings
from tests.support import schemacheck

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"

FULL_PD = PD_VARIANT | {
    "inferencePool": {"endpointPicker": {"replicas": 2, "port": 9100, "failureMode": "FailOpen"}},
    "httpRoute": {"gatewayRef": {"name": "gw", "namespace": "gateways"}, "hostnames": ["llm.example.com"]},
    "monitoring": {"podMonitor": {"enabled": True, "interval": "15s"}},
    "model": {"imagePullSecrets": [{"name": "regcred"}]},
    "engine": {
        "env": [{"name": "VLLM_NIXL_SIDE_CHANNEL_PORT", "value": "5557"}],
        "args": ["--max-model-len", "8192"],
        "imagePullPolicy": "IfNotPresent",
    },
    "decode": {
        "replicas": 2,
        "parallelism": {"tensor": 2},
        "annotations": {"example.com/team": "llm"},
        "nodeSelector": {"nvidia.com/gpu.product": "H100"},
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        "resources": {"requests": {"cpu": "8", "memory": "64Gi"}, "limits": {"memory": "64Gi"}},
    },
}
TRACING = {"enabled": True, "otel_exporter_endpoint": "http://otel-collector.observability:4317"}
HPA_SCALING: dict[str, Any] = {
    "decode": {
        "replicas": None,
        "autoscaling": {
            "minReplicas": 2,
            "maxReplicas": 8,
            "requestsWaiting": 5,
            "kvCacheUsage": "0.8",
            "metrics": [{"name": "vllm_num_requests_running", "averageValue": "12"}],
        },
        "rolloutStrategy": {"maxSurge": 1, "maxUnavailable": "0%"},
    }
}
KEDA_SCALING: dict[str, Any] = PD_VARIANT | {
    "decode": {
        "replicas": None,
        "autoscaling": {
            "engine": "keda",
            "minReplicas": 0,
            "maxReplicas": 4,
            "requestsWaiting": "2.5",
            "prometheusAddress": "http://prometheus.monitoring.svc:9090",
            "metrics": [
                {
                    "name": "gateway_queue",
                    "averageValue": 10,
                    "query": 'sum(inference_pool_queue_size{name="qwen3-0.6b"})',
                }
            ],
        },
    },
    "prefill": {
        "autoscaling": {
            "engine": "keda",
            "maxReplicas": 2,
            "kvCacheUsage": "0.75",
            "prometheusAddress": "https://prometheus.example.com",
        },
        "rolloutStrategy": {"maxUnavailable": "50%"},
    },
}

REPRESENTATIVE: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("minimal worked example", {}, {}),
    ("8-GPU tensor parallel", {"decode": {"parallelism": {"tensor": 8}}}, {}),
    (
        "PD with proxy, explicit pool and route, monitoring and metrics auth",
        FULL_PD,
        {"metrics_endpoint_auth": True},
    ),
    ("PD with metrics auth off", FULL_PD, {"metrics_endpoint_auth": False}),
    ("CPU only", {"accelerator": {"type": "cpu"}, "decode": {"resources": {"requests": {"cpu": "4"}}}}, {}),
    ("tracing on", PD_VARIANT, {"tracing": TRACING}),
    ("provider gke", FULL_PD, {"provider": "gke"}),
    ("provider none without default gateway", {}, {"provider": "none", "default_gateway_name": ""}),
    ("reference unpack script", {}, {"kit_plain_http": True, "version": ""}),
    ("HPA autoscaling and a custom rollout", HPA_SCALING, {}),
    ("KEDA autoscaling of decode and prefill", KEDA_SCALING, {}),
]


def _example_model_services() -> list[tuple[str, ModelService]]:
    """Every ``kind: ModelService`` document in examples/*.yaml, with a namespace and uid."""
    found: list[tuple[str, ModelService]] = []
    for path in sorted(EXAMPLES_DIR.glob("*.yaml")):
        for i, doc in enumerate(yaml.safe_load_all(path.read_text())):
            if not isinstance(doc, dict) or doc.get("kind") != "ModelService":
                continue
            doc = copy.deepcopy(doc)
            metadata = doc.setdefault("metadata", {})
            metadata.setdefault("namespace", "examples")
            metadata.setdefault("uid", f"uid-{path.stem}-{i}")
            found.append((f"{path.name}#{i} {metadata.get('name')}", ModelService.model_validate(doc)))
    return found


EXAMPLES = _example_model_services()


def _assert_conforms(ms: ModelService, config: OperatorSettings, team_data_dir: Path) -> None:
    state = build_all(ms, config)
    failures = {
        f"{o['kind']} {o['metadata']['name']}": errors
        for o in state.objects
        if (errors := schemacheck.validate_child(o, team_data_dir))
    }
    assert failures == {}


@pytest.mark.parametrize(
    ("spec", "changes"), [r[1:] for r in REPRESENTATIVE], ids=[r[0] for r in REPRESENTATIVE]
)
def test_every_child_of_a_representative_model_service_conforms(
    spec: dict[str, Any], changes: dict[str, Any], team_data_dir: Path
) -> None:
    _assert_conforms(make_ms(spec), settings(**changes), team_data_dir)


@pytest.mark.skipif(not EXAMPLES, reason="examples/ holds no ModelService yet")
@pytest.mark.parametrize("ms", [e[1] for e in EXAMPLES], ids=[e[0] for e in EXAMPLES])
def test_every_child_of_every_example_conforms(ms: ModelService, team_data_dir: Path) -> None:
    _assert_conforms(ms, OperatorSettings(), team_data_dir)


def _child(kind: str, spec: dict[str, Any] | None = None) -> dict[str, Any]:
    full = PD_VARIANT | {
        "inferencePool": {"endpointPicker": {}},
        "monitoring": {"podMonitor": {"enabled": True}},
        "decode": HPA_SCALING["decode"],
        "prefill": KEDA_SCALING["prefill"] | {"replicas": None},
    }
    state = build_all(make_ms(full | (spec or {})), settings())
    return copy.deepcopy(next(o for o in state.objects if o["kind"] == kind))


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A mutation setting the dotted ``path`` (integers index lists) to ``value``."""

    def mutate(obj: dict[str, Any]) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        target: Any = obj
        for key in parents:
            target = target[key]
        target[last] = value

    return mutate


CONTAINER = "spec.template.spec.containers.0"
BROKEN: list[tuple[str, str, Callable[[dict[str, Any]], None], str]] = [
    (
        "core schema rejects an unknown container field",
        "Deployment",
        _set(f"{CONTAINER}.imagePolicy", "x"),
        "imagePolicy",
    ),
    ("core schema rejects a string port", "Service", _set("spec.ports.0.port", "80"), "80"),
    ("a kind without a schema fails", "ConfigMap", _set("apiVersion", "v2"), "no Kubernetes"),
    ("CRD schema rejects an unknown field", "InferencePool", _set("spec.extra", 1), "extra"),
    ("CRD schema rejects a wrong type", "PodMonitor", _set("spec.podMetricsEndpoints.0.path", 5), "path"),
    ("CRD schema rejects an unknown root field", "DestinationRule", _set("status2", {}), "status2"),
    ("CRD metadata is strict", "HTTPRoute", _set("metadata.labelz", {}), "labelz"),
    (
        "CEL rejects duplicate target ports",
        "InferencePool",
        _set("spec.targetPorts", [{"number": 8000}, {"number": 8000}]),
        "CEL",
    ),
    (
        "CEL rejects a path without a leading slash",
        "HTTPRoute",
        _set("spec.rules.0.matches.0.path.value", "v1"),
        "CEL",
    ),
    (
        "CEL evaluation errors are failures",
        "DestinationRule",
        _set("spec.trafficPolicy.connectionPool", {"http": {"idleTimeout": "sixty"}}),
        "CEL",
    ),
    ("int32 ranges are enforced", "InferencePool", _set("spec.targetPorts.0.number", 2**40), "int32"),
    (
        "list-map keys must be unique",
        "HTTPRoute",
        _set(
            "spec.rules.0.matches.0.headers",
            [{"name": "a", "value": "1"}, {"name": "a", "value": "2"}],
        ),
        "duplicate keys",
    ),
    ("names must be DNS-1123 subdomains", "ConfigMap", _set("metadata.name", "Not_A_Name"), "DNS-1123"),
    ("service names must be DNS-1035 labels", "Service", _set("metadata.name", "9-epp"), "DNS-1035"),
    ("label values are checked", "Role", _set("metadata.labels.app", "-bad-"), "label"),
    (
        "selector labels are checked on custom resources",
        "PodMonitor",
        _set("spec.selector.matchLabels.k", "a b"),
        "label",
    ),
    (
        "selector must match template labels",
        "Deployment",
        _set("spec.selector.matchLabels.extra", "x"),
        "selector",
    ),
    (
        "container ports are in range",
        "Deployment",
        _set(f"{CONTAINER}.ports.0.containerPort", 70000),
        "containerPort",
    ),
    (
        "pull policy is an enum",
        "Deployment",
        _set(f"{CONTAINER}.imagePullPolicy", "Sometimes"),
        "imagePullPolicy",
    ),
    ("protocol is an enum", "Service", _set("spec.ports.0.protocol", "XTCP"), "protocol"),
    ("null values are rejected", "ServiceAccount", _set("metadata.labels", None), "null"),
    (
        "probe ports must name a container port",
        "Deployment",
        _set(f"{CONTAINER}.ports.0.name", "web"),
        "names no port",
    ),
    (
        "token Secrets need their service account",
        "Secret",
        _set("metadata.annotations", {"other": "x"}),
        "service-account.name",
    ),
    (
        "cluster-scoped objects have no owner",
        "ClusterRole",
        _set("metadata.ownerReferences", [{"uid": "u"}]),
        "owner",
    ),
    (
        "HPA schema rejects an unknown metric field",
        "HorizontalPodAutoscaler",
        _set("spec.metrics.0.pods.metricName", "x"),
        "metricName",
    ),
    ("HPA bounds are integers", "HorizontalPodAutoscaler", _set("spec.maxReplicas", "8"), "maxReplicas"),
    ("KEDA trigger fields are closed", "ScaledObject", _set("spec.triggers.0.threshold", "5"), "threshold"),
    ("KEDA trigger metadata is strings", "ScaledObject", _set("spec.triggers.0.metadata.threshold", 5), "5"),
    ("KEDA metric type is an enum", "ScaledObject", _set("spec.triggers.0.metricType", "Average"), "Average"),
    ("KEDA needs a scale target name", "ScaledObject", _set("spec.scaleTargetRef", {}), "name"),
]


@pytest.mark.parametrize(("kind", "mutate", "expected"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_a_broken_child_is_rejected(
    kind: str, mutate: Callable[[dict[str, Any]], None], expected: str, team_data_dir: Path
) -> None:
    obj = _child(kind)
    assert schemacheck.validate_child(obj, team_data_dir) == []
    mutate(obj)
    errors = schemacheck.validate_child(obj, team_data_dir)
    assert any(expected in e for e in errors), errors


def test_parent_refs_differing_only_in_namespace_pass_thanks_to_property_escaping(
    team_data_dir: Path,
) -> None:
    route = _child("HTTPRoute")
    route["spec"]["parentRefs"] = [{"name": "gw", "namespace": "a"}, {"name": "gw", "namespace": "b"}]
    assert schemacheck.validate_child(route, team_data_dir) == []


def test_defaults_are_applied_before_cel_so_two_parent_refs_evaluate(team_data_dir: Path) -> None:
    route = _child("HTTPRoute")
    route["spec"]["parentRefs"] = [{"name": "gw1"}, {"name": "gw2"}]
    assert schemacheck.validate_child(route, team_data_dir) == []
    route["spec"]["parentRefs"] = [{"name": "gw1"}, {"name": "gw1"}]
    assert schemacheck.validate_child(route, team_data_dir) != []
