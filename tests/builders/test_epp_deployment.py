"""The EPP Deployment: the worked example as a whole object, variants as tables."""

from __future__ import annotations

from typing import Any

import pytest

from shared.builders import epp_deployment
from tests.builders.factories import SETTINGS, make_ms, settings

POD_LABELS = {
    "app.kubernetes.io/name": "qwen3-0-6b-epp",
    "app.kubernetes.io/component": "epp",
    "app.kubernetes.io/part-of": "otterscale-system",
    "app.kubernetes.io/managed-by": "model-operator",
    "inferencepool": "qwen3-0-6b-epp",
}
NAMESPACE_ENV = [
    {"name": "NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
    {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
]

EXAMPLE_EPP_DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {
        "name": "qwen3-0-6b-epp",
        "namespace": "llm",
        "labels": {
            "app.kubernetes.io/name": "qwen3-0-6b-epp",
            "app.kubernetes.io/component": "epp",
            "app.kubernetes.io/part-of": "otterscale-system",
            "app.kubernetes.io/managed-by": "model-operator",
            "app.kubernetes.io/version": "v1.0.1",
            "model.otterscale.io/modelservice": "qwen3-0.6b",
        },
        "ownerReferences": [
            {
                "apiVersion": "model.otterscale.io/v1alpha1",
                "kind": "ModelService",
                "name": "qwen3-0.6b",
                "uid": "U",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    },
    "spec": {
        "replicas": 1,
        "strategy": {"type": "Recreate"},
        "selector": {"matchLabels": POD_LABELS},
        "template": {
            "metadata": {
                "labels": POD_LABELS,
                "annotations": {
                    "checksum/config": "3aee930c4fc2cf8c749623ba30a077bd93d5cca0c6513c87a5fe3427b089f2f1"
                },
            },
            "spec": {
                "serviceAccountName": "qwen3-0-6b-epp",
                "terminationGracePeriodSeconds": 130,
                "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [
                    {
                        "name": "epp",
                        "image": "ghcr.io/llm-d/llm-d-inference-scheduler:v0.6.0",
                        "imagePullPolicy": "IfNotPresent",
                        "args": [
                            "--pool-name=qwen3-0.6b",
                            "--pool-namespace=llm",
                            "--pool-group=inference.networking.k8s.io",
                            "--config-file=/config/default-plugins.yaml",
                            "--grpc-port=9002",
                            "--zap-encoder=json",
                            "--tracing=false",
                        ],
                        "env": NAMESPACE_ENV,
                        "resources": {
                            "requests": {"cpu": "4", "memory": "8Gi"},
                            "limits": {"memory": "16Gi"},
                        },
                        "ports": [
                            {"name": "grpc-ext-proc", "containerPort": 9002, "protocol": "TCP"},
                            {"name": "grpc-health", "containerPort": 9003, "protocol": "TCP"},
                            {"name": "http-metrics", "containerPort": 9090, "protocol": "TCP"},
                        ],
                        "volumeMounts": [{"name": "epp-config", "mountPath": "/config", "readOnly": True}],
                        "readinessProbe": {
                            # initialDelaySeconds 0 is left out, as the API server would drop it
                            "grpc": {"port": 9003, "service": "inference-extension"},
                            "periodSeconds": 2,
                        },
                        "livenessProbe": {
                            "grpc": {"port": 9003, "service": "inference-extension"},
                            "initialDelaySeconds": 5,
                            "periodSeconds": 10,
                        },
                        "securityContext": {
                            "allowPrivilegeEscalation": False,
                            "capabilities": {"drop": ["ALL"]},
                        },
                    }
                ],
                "volumes": [
                    {"name": "epp-config", "configMap": {"name": "qwen3-0-6b-epp-config", "optional": True}}
                ],
            },
        },
    },
}


def _container(spec: dict[str, Any] | None = None, **changes: Any) -> dict[str, Any]:
    built = epp_deployment.build_epp_deployment(make_ms(spec), settings(**changes) if changes else SETTINGS)
    assert built is not None
    container: dict[str, Any] = built["spec"]["template"]["spec"]["containers"][0]
    return container


def test_worked_example_builds_the_reference_epp_deployment() -> None:
    assert epp_deployment.build_epp_deployment(make_ms(), SETTINGS) == EXAMPLE_EPP_DEPLOYMENT


def test_pd_mode_reads_the_pd_config_and_carries_its_hash() -> None:
    built = epp_deployment.build_epp_deployment(make_ms({"prefill": {}}), SETTINGS)
    assert built is not None
    assert (
        "--config-file=/config/pd-config.yaml" in built["spec"]["template"]["spec"]["containers"][0]["args"]
    )
    assert built["spec"]["template"]["metadata"]["annotations"] == {
        "checksum/config": "da2206ceec8c17d0eef3714ea7387e412c7b565661113eef5c0d0fd2b083eb23"
    }


@pytest.mark.parametrize(
    ("replicas", "leader_election", "services"),
    [
        (0, False, ("inference-extension", "inference-extension")),
        (1, False, ("inference-extension", "inference-extension")),
        (2, True, ("readiness", "liveness")),
    ],
    ids=["zero replicas", "one replica", "more than one replica elects a leader"],
)
def test_replicas_drive_leader_election_and_probe_services(
    replicas: int, leader_election: bool, services: tuple[str, str]
) -> None:
    spec = {"inferencePool": {"endpointPicker": {"replicas": replicas}}}
    built = epp_deployment.build_epp_deployment(make_ms(spec), SETTINGS)
    assert built is not None
    container = built["spec"]["template"]["spec"]["containers"][0]
    assert built["spec"]["replicas"] == replicas
    assert ("--ha-enable-leader-election" in container["args"]) is leader_election
    assert (
        container["readinessProbe"]["grpc"]["service"],
        container["livenessProbe"]["grpc"]["service"],
    ) == services


@pytest.mark.parametrize(
    ("changes", "expected_tail"),
    [
        ({}, ["--zap-encoder=json", "--tracing=false"]),
        (
            {"metrics_endpoint_auth": False},
            ["--zap-encoder=json", "--tracing=false", "--metrics-endpoint-auth=false"],
        ),
        ({"tracing": {"enabled": True}}, ["--zap-encoder=json", "--tracing=true"]),
        (
            {"epp_flags": {"v": "3", "kv-cache-usage-threshold": "0.8"}},
            ["--zap-encoder=json", "--tracing=false", "--kv-cache-usage-threshold=0.8", "--v=3"],
        ),
    ],
    ids=["defaults", "metrics auth off", "tracing on", "extra flags sorted by key"],
)
def test_epp_args_follow_operator_settings(changes: dict[str, Any], expected_tail: list[str]) -> None:
    args = _container(**changes)["args"]
    assert args[5:] == expected_tail


def test_explicit_port_and_image_come_from_the_endpoint_picker() -> None:
    container = _container({"inferencePool": {"endpointPicker": {"port": 9100, "image": "epp:dev"}}})
    assert container["image"] == "epp:dev"
    assert "--grpc-port=9100" in container["args"]
    assert container["ports"][0] == {"name": "grpc-ext-proc", "containerPort": 9100, "protocol": "TCP"}


@pytest.mark.parametrize(
    ("resources", "expected"),
    [
        (None, {"requests": {"cpu": "4", "memory": "8Gi"}, "limits": {"memory": "16Gi"}}),
        (
            {"claims": [{"name": "c"}]},
            {"requests": {"cpu": "4", "memory": "8Gi"}, "limits": {"memory": "16Gi"}},
        ),
        ({"requests": {"cpu": "1"}}, {"requests": {"cpu": "1"}}),
        ({"limits": {"memory": "2Gi"}}, {"limits": {"memory": "2Gi"}}),
        ({"requests": {}}, {"requests": {}}),
    ],
    ids=[
        "absent takes the default",
        "claims alone take the default",
        "requests replace the default",
        "limits replace the default",
        "an explicit empty requests map counts as set",
    ],
)
def test_epp_resources(resources: dict[str, Any] | None, expected: dict[str, Any]) -> None:
    picker: dict[str, Any] = {} if resources is None else {"resources": resources}
    assert _container({"inferencePool": {"endpointPicker": picker}})["resources"] == expected


def test_tracing_env_follows_the_reference_order() -> None:
    tracing = {"enabled": True, "otel_exporter_endpoint": "http://otel:4317", "sampler_arg": ""}
    assert _container(tracing=tracing)["env"] == [
        *NAMESPACE_ENV,
        {"name": "OTEL_SERVICE_NAME", "value": "gateway-api-inference-extension"},
        {"name": "OTEL_EXPORTER_OTLP_ENDPOINT", "value": "http://otel:4317"},
        {"name": "OTEL_TRACES_EXPORTER", "value": "otlp"},
        {
            "name": "OTEL_RESOURCE_ATTRIBUTES_NODE_NAME",
            "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "spec.nodeName"}},
        },
        {
            "name": "OTEL_RESOURCE_ATTRIBUTES_POD_NAME",
            "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}},
        },
        {
            "name": "OTEL_RESOURCE_ATTRIBUTES",
            "value": "k8s.namespace.name=$(NAMESPACE),k8s.node.name=$(OTEL_RESOURCE_ATTRIBUTES_NODE_NAME),"
            "k8s.pod.name=$(OTEL_RESOURCE_ATTRIBUTES_POD_NAME)",
        },
        {"name": "OTEL_TRACES_SAMPLER", "value": "parentbased_traceidratio"},
    ]


def test_operator_upgrade_leaves_the_epp_pod_template_unchanged() -> None:
    old = epp_deployment.build_epp_deployment(make_ms(), settings(version="v1.0.1"))
    new = epp_deployment.build_epp_deployment(make_ms(), settings(version="v2.0.0"))
    assert old is not None and new is not None
    assert old["spec"]["template"] == new["spec"]["template"]
