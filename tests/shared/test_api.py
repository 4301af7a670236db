"""The ModelService models against the API description: defaults, required fields, enums, bounds, types."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from shared import api
from shared.api import ModelService

MINIMAL: dict[str, Any] = {
    "apiVersion": "model.otterscale.io/v1alpha1",
    "kind": "ModelService",
    "metadata": {"name": "qwen", "namespace": "llm"},
    "spec": {
        "model": {"name": "Qwen/Qwen3-0.6B", "image": "registry.example/models/qwen3:0.6b"},
        "engine": {},
        "accelerator": {"type": "nvidia"},
        "decode": {},
    },
}


def manifest(**spec: Any) -> dict[str, Any]:
    """MINIMAL with top-level spec fields replaced (None deletes one)."""
    obj = copy.deepcopy(MINIMAL)
    for key, value in spec.items():
        if value is None:
            obj["spec"].pop(key, None)
        else:
            obj["spec"][key] = value
    return obj


def with_value(path: str, value: Any) -> dict[str, Any]:
    """MINIMAL with one dotted path set, creating parent objects on the way."""
    obj = copy.deepcopy(MINIMAL)
    *parents, leaf = path.split(".")
    node = obj
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
    return obj


def without(path: str) -> dict[str, Any]:
    obj = copy.deepcopy(MINIMAL)
    *parents, leaf = path.split(".")
    node = obj
    for part in parents:
        node = node[part]
    del node[leaf]
    return obj


def error_locs(obj: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as exc:
        ModelService.from_manifest(obj)
    return [".".join(str(p) for p in err["loc"]) for err in exc.value.errors()]


def wire(ms: ModelService, path: str) -> Any:
    node: Any = ms.to_manifest()
    for part in path.split("."):
        node = node[part]
    return node


# --- defaults ------------------------------------------------------------------------------------

PD_PARTS: dict[str, Any] = {
    "prefill": {},
    "routingProxy": {},
    "inferencePool": {"endpointPicker": {}},
    "monitoring": {"podMonitor": {}},
    "decode": {"parallelism": {}, "autoscaling": {"maxReplicas": 4}},
}


DEFAULTS: list[tuple[str, Any]] = [
    ("spec.model.mountPath", "/models"),
    ("spec.engine.port", 8000),
    ("spec.decode.autoscaling.engine", "hpa"),
    ("spec.decode.autoscaling.minReplicas", 1),
    ("spec.decode.parallelism.tensor", 1),
    ("spec.decode.parallelism.data", 1),
    ("spec.decode.parallelism.dataLocal", 1),
    ("spec.routingProxy.connector", "nixlv2"),
    ("spec.routingProxy.targetPort", 8200),
    ("spec.inferencePool.endpointPicker.replicas", 1),
    ("spec.inferencePool.endpointPicker.port", 9002),
    ("spec.inferencePool.endpointPicker.failureMode", "FailOpen"),
    ("spec.monitoring.podMonitor.enabled", False),
    ("spec.monitoring.podMonitor.portName", "http"),
    ("spec.monitoring.podMonitor.path", "/metrics"),
    ("spec.monitoring.podMonitor.interval", "30s"),
]


@pytest.mark.parametrize(("path", "value"), DEFAULTS, ids=[path for path, _ in DEFAULTS])
def test_every_schema_default_is_filled_when_its_parent_exists(path: str, value: Any) -> None:
    ms = ModelService.from_manifest(manifest(**PD_PARTS))
    assert wire(ms, path) == value


@pytest.mark.parametrize(
    ("spec", "absent"),
    [
        ({}, "prefill"),
        ({}, "routingProxy"),
        ({}, "inferencePool"),
        ({}, "httpRoute"),
        ({}, "monitoring"),
        ({"monitoring": {}}, "podMonitor"),
        ({}, "parallelism"),
        ({}, "resources"),
    ],
    ids=[
        "no prefill",
        "no routing proxy",
        "no inference pool",
        "no http route",
        "no monitoring",
        "empty monitoring has no pod monitor",
        "decode without parallelism",
        "decode without resources",
    ],
)
def test_absent_optional_objects_stay_absent(spec: dict[str, Any], absent: str) -> None:
    out = ModelService.from_manifest(manifest(**spec)).to_manifest()["spec"]
    assert absent not in out
    assert absent not in out.get("monitoring", {})
    assert absent not in out["decode"]


def test_empty_prefill_stays_empty_replicas_are_the_webhooks_to_default() -> None:
    # No schema default for replicas: it would be indistinguishable from a written one beside
    # autoscaling. The mutating webhook writes 1 (shared.defaulting.replicas_default_ops).
    ms = ModelService.from_manifest(manifest(prefill={}))
    assert ms.spec.prefill is not None
    assert ms.to_manifest()["spec"]["prefill"] == {}


def test_empty_parallelism_gets_every_size_one() -> None:
    ms = ModelService.from_manifest(manifest(decode={"parallelism": {}}))
    assert ms.to_manifest()["spec"]["decode"]["parallelism"] == {"tensor": 1, "data": 1, "dataLocal": 1}


def test_optional_fields_without_schema_defaults_are_omitted_on_the_wire() -> None:
    out = ModelService.from_manifest(
        manifest(routingProxy={}, inferencePool={"endpointPicker": {}})
    ).to_manifest()
    assert out["spec"]["engine"] == {"port": 8000}
    assert out["spec"]["routingProxy"] == {"connector": "nixlv2", "targetPort": 8200}
    assert out["spec"]["inferencePool"]["endpointPicker"] == {
        "replicas": 1,
        "port": 9002,
        "failureMode": "FailOpen",
    }
    assert "status" not in out


# --- required fields -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "loc"),
    [
        (without("spec"), "spec"),
        (without("spec.model"), "spec.model"),
        (without("spec.model.name"), "spec.model.name"),
        (without("spec.model.image"), "spec.model.image"),
        (without("spec.engine"), "spec.engine"),
        (without("spec.accelerator"), "spec.accelerator"),
        (without("spec.accelerator.type"), "spec.accelerator.type"),
        (without("spec.decode"), "spec.decode"),
        (manifest(inferencePool={}), "spec.inferencePool.endpointPicker"),
        (manifest(httpRoute={}), "spec.httpRoute.gatewayRef"),
        (manifest(httpRoute={"gatewayRef": {}}), "spec.httpRoute.gatewayRef.name"),
        (manifest(engine={"env": [{"value": "1"}]}), "spec.engine.env.0.name"),
        (with_value("status.conditions", [{"type": "Ready"}]), "status.conditions.0.status"),
    ],
    ids=[
        "spec",
        "model",
        "model name",
        "model image",
        "engine",
        "accelerator",
        "accelerator type",
        "decode",
        "endpoint picker",
        "gateway ref",
        "gateway name",
        "env var name",
        "condition status",
    ],
)
def test_required_fields_are_reported_by_wire_path(obj: dict[str, Any], loc: str) -> None:
    assert loc in error_locs(obj)


# --- enums, bounds and strict types --------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("spec.accelerator.type", "tpu"),
        ("spec.accelerator.type", "NVIDIA"),
        ("spec.inferencePool.endpointPicker.failureMode", "FailSafe"),
        ("spec.engine.imagePullPolicy", "Sometimes"),
        ("status.phase", "Done"),
        ("spec.decode.replicas", -1),
        ("spec.prefill.replicas", -3),
        ("spec.decode.parallelism.tensor", 0),
        ("spec.decode.parallelism.data", 0),
        ("spec.decode.parallelism.dataLocal", -1),
        ("spec.engine.port", 0),
        ("spec.engine.port", 65536),
        ("spec.routingProxy.targetPort", 70000),
        ("spec.inferencePool.endpointPicker.port", 0),
        ("spec.inferencePool.endpointPicker.replicas", -1),
        ("spec.model.name", ""),
        ("spec.model.name", "m" * 254),
        ("spec.model.image", ""),
        ("spec.httpRoute.gatewayRef.name", ""),
        ("spec.decode.replicas", 2**31),
        ("spec.engine.port", "8000"),
        ("spec.decode.replicas", True),
        ("spec.decode.replicas", 1.5),
        ("spec.monitoring.podMonitor.enabled", "true"),
        ("spec.routingProxy.secureProxy", "yes"),
        ("spec.routingProxy.prefillerUseTLS", 1),
        ("spec.model.name", 42),
        ("spec.engine.args", "--foo"),
        ("spec.engine.args", [1]),
        ("spec.decode.nodeSelector", {"gpu": True}),
        ("spec.decode.annotations", ["a"]),
        ("spec.httpRoute.hostnames", "example.com"),
        ("status.observedGeneration", "3"),
    ],
    ids=[
        "unknown accelerator",
        "accelerator is case sensitive",
        "unknown failure mode",
        "unknown pull policy",
        "unknown phase",
        "negative decode replicas",
        "negative prefill replicas",
        "zero tensor parallel",
        "zero data parallel",
        "negative local data parallel",
        "port zero",
        "port above 65535",
        "target port above 65535",
        "epp port zero",
        "negative epp replicas",
        "empty model name",
        "model name of 254 characters",
        "empty model image",
        "empty gateway name",
        "replicas beyond int32",
        "port as string",
        "replicas as bool",
        "replicas as float",
        "enabled as string",
        "secure proxy as string",
        "prefiller tls as int",
        "model name as int",
        "args as string",
        "args with an int",
        "node selector with a bool",
        "annotations as list",
        "hostnames as string",
        "observed generation as string",
    ],
)
def test_invalid_values_are_rejected_at_their_path(path: str, value: Any) -> None:
    obj = with_value(path, value)
    if path.startswith("spec.inferencePool"):
        obj["spec"]["inferencePool"].setdefault("endpointPicker", {})
    if path.startswith("spec.httpRoute.hostnames"):
        obj["spec"]["httpRoute"]["gatewayRef"] = {"name": "gw"}
    locs = error_locs(obj)
    assert locs[0] == path or locs[0].startswith(path + ".")


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("spec.model.name", "m" * 253),
        ("spec.engine.port", 65535),
        ("spec.decode.replicas", 0),
        ("spec.inferencePool.endpointPicker.replicas", 0),
        ("spec.inferencePool.endpointPicker.failureMode", "FailClose"),
        ("spec.engine.imagePullPolicy", "IfNotPresent"),
        ("spec.accelerator.type", "intel-gaudi"),
        ("spec.routingProxy.prefillerUseTLS", False),
        ("spec.monitoring.podMonitor.interval", "not-validated-by-the-schema"),
        ("status.phase", "Failed"),
    ],
    ids=[
        "model name of 253 characters",
        "port 65535",
        "zero decode replicas",
        "zero epp replicas",
        "fail close",
        "pull policy",
        "intel gaudi",
        "prefiller tls false",
        "free-form interval",
        "failed phase",
    ],
)
def test_boundary_values_are_accepted(path: str, value: Any) -> None:
    obj = with_value(path, value)
    if path.startswith("spec.inferencePool"):
        obj["spec"]["inferencePool"].setdefault("endpointPicker", {})
    assert wire(ModelService.from_manifest(obj), path) == value


# --- names on the wire and in Python -------------------------------------------------------------

FULL: dict[str, Any] = manifest(
    model={
        "name": "meta-llama/Llama-3.3-70B-Instruct",
        "image": "registry.example/models/llama:70b",
        "mountPath": "/data/model",
        "imagePullSecrets": [{"name": "registry"}, {}],
    },
    engine={
        "image": "vllm:1",
        "imagePullPolicy": "Always",
        "args": ["--max-model-len", "8192"],
        "env": [{"name": "VLLM_NIXL_SIDE_CHANNEL_PORT", "value": "5600"}],
        "port": 8080,
    },
    accelerator={"type": "amd"},
    decode={
        "replicas": 2,
        "parallelism": {"tensor": 8, "data": 2, "dataLocal": 1},
        "resources": {"limits": {"memory": "64Gi"}, "requests": {"cpu": "8"}},
        "nodeSelector": {"pool": "gpu"},
        "tolerations": [{"key": "amd.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        "annotations": {"a": "b"},
    },
    prefill={"replicas": 3},
    routingProxy={
        "image": "proxy:1",
        "connector": "lmcache",
        "targetPort": 8300,
        "zapEncoder": "json",
        "zapLogLevel": "debug",
        "secureProxy": True,
        "prefillerUseTLS": False,
        "certPath": "/certs",
    },
    inferencePool={
        "endpointPicker": {
            "image": "epp:1",
            "replicas": 2,
            "resources": {"requests": {"cpu": "1"}},
            "port": 9010,
            "failureMode": "FailClose",
        }
    },
    httpRoute={"gatewayRef": {"name": "gw", "namespace": "infra"}, "hostnames": ["llm.example.com"]},
    monitoring={"podMonitor": {"enabled": True, "portName": "metrics", "path": "/m", "interval": "15s"}},
)
FULL["status"] = {
    "observedGeneration": 4,
    "phase": "Ready",
    "decodeReady": 2,
    "decodeReplicas": 2,
    "prefillReady": 3,
    "prefillReplicas": 3,
    "conditions": [
        {
            "type": "Ready",
            "status": "True",
            "observedGeneration": 4,
            "lastTransitionTime": "2026-01-02T03:04:05Z",
            "reason": "AllReplicasReady",
            "message": "All 5 replicas are ready",
        }
    ],
}


def test_a_fully_specified_manifest_round_trips_unchanged_except_defaults() -> None:
    out = ModelService.from_manifest(FULL).to_manifest()
    expected = copy.deepcopy(FULL)
    expected["spec"]["model"]["imagePullSecrets"][1] = {"name": ""}
    expected["spec"]["prefill"] = {"replicas": 3}
    assert out == expected


def test_the_wire_form_reads_back_into_an_equal_model() -> None:
    ms = ModelService.from_manifest(FULL)
    assert ModelService.from_manifest(ms.to_manifest()) == ms


def test_python_attributes_are_snake_case_and_the_wire_is_camel_case() -> None:
    ms = ModelService.from_manifest(FULL)
    assert ms.spec.routing_proxy is not None and ms.spec.routing_proxy.prefiller_use_tls is False
    assert ms.spec.routing_proxy.target_port == 8300
    assert (
        ms.spec.inference_pool is not None
        and ms.spec.inference_pool.endpoint_picker.failure_mode == "FailClose"
    )
    assert ms.spec.decode.parallelism is not None and ms.spec.decode.parallelism.data_local == 1
    assert (
        ms.spec.model.image_pull_secrets is not None
        and ms.spec.model.image_pull_secrets[0].name == "registry"
    )
    assert ms.status is not None and ms.status.conditions is not None
    assert ms.status.conditions[0].last_transition_time == "2026-01-02T03:04:05Z"
    spec = ms.to_manifest()["spec"]
    assert {"routingProxy", "inferencePool", "httpRoute"} <= set(spec)
    assert "prefillerUseTLS" in spec["routingProxy"] and "prefillerUseTls" not in spec["routingProxy"]


def test_snake_case_input_is_accepted_as_well() -> None:
    obj = manifest(routing_proxy={"target_port": 8300}, decode={"node_selector": {"a": "b"}})
    ms = ModelService.from_manifest(obj)
    assert ms.spec.routing_proxy is not None and ms.spec.routing_proxy.target_port == 8300
    assert ms.spec.decode.node_selector == {"a": "b"}


def test_unknown_fields_are_ignored_on_read() -> None:
    obj = manifest(engine={"prot": 1, "port": 9000}, futureField={"x": 1})
    obj["spec"]["decode"]["surprise"] = True
    obj["extra"] = "top"
    out = ModelService.from_manifest(obj).to_manifest()
    assert out["spec"]["engine"] == {"port": 9000}
    assert "futureField" not in out["spec"] and "surprise" not in out["spec"]["decode"] and "extra" not in out


def test_models_are_frozen() -> None:
    ms = ModelService.from_manifest(MINIMAL)
    with pytest.raises(ValidationError, match="frozen"):
        ms.spec.decode.replicas = 3  # type: ignore[misc]


def test_metadata_and_type_meta_default_when_absent() -> None:
    obj = {"spec": MINIMAL["spec"]}
    ms = ModelService.from_manifest(obj)
    assert (ms.api_version, ms.kind, ms.metadata.name, ms.metadata.namespace) == (
        api.API_VERSION,
        "ModelService",
        "",
        "",
    )


# --- status --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "field"),
    [
        ({"status": "Maybe"}, "status"),
        ({"reason": "not valid!"}, "reason"),
        ({"reason": ""}, "reason"),
        ({"type": "Not Valid"}, "type"),
        ({"observedGeneration": -1}, "observedGeneration"),
        ({"message": "x" * 32769}, "message"),
    ],
    ids=[
        "unknown status",
        "reason with spaces",
        "empty reason",
        "type with a space",
        "negative generation",
        "long message",
    ],
)
def test_conditions_follow_the_metav1_condition_schema(condition: dict[str, Any], field: str) -> None:
    base = dict(FULL["status"]["conditions"][0], **condition)
    assert f"status.conditions.0.{field}" in error_locs(with_value("status.conditions", [base]))


def test_resource_identity_constants_match_the_api() -> None:
    assert (api.GROUP, api.VERSION, api.API_VERSION) == (
        "model.otterscale.io",
        "v1alpha1",
        "model.otterscale.io/v1alpha1",
    )
    assert (api.KIND, api.LIST_KIND, api.PLURAL, api.SINGULAR) == (
        "ModelService",
        "ModelServiceList",
        "modelservices",
        "modelservice",
    )
    assert api.CRD_NAME == "modelservices.model.otterscale.io"
    assert api.CATEGORIES == ("otterscale",)
