"""Validation rules: each invalid case names its exact field path; valid cases pass clean."""

from __future__ import annotations

from typing import Any

import pytest

from shared import defaulting, names, validation
from shared.settings import OperatorSettings
from tests.webhook import samples

SETTINGS = OperatorSettings()
ANNOTATION_PATH = f"metadata.annotations[{names.DNS1035_NAME_ANNOTATION}]"


def _stored(obj: dict[str, Any]) -> dict[str, Any]:
    """What the validating webhook sees: the object after the mutating webhook."""
    return defaulting.defaulted(obj, SETTINGS)


def _paths(obj: dict[str, Any], settings: OperatorSettings = SETTINGS) -> list[str]:
    return [e.path for e in validation.validate(_stored(obj), settings).errors]


def _set(path: str, value: Any, base: dict[str, Any] | None = None) -> dict[str, Any]:
    return samples.with_changes(base if base is not None else samples.full_pd(), path, value)


@pytest.mark.parametrize(
    "obj",
    [
        samples.minimal(),
        samples.full_pd(),
        _set("spec.engine.args", ["--served-model-name-suffix", "--download-dir", "/models"]),
        _set(
            "spec.decode.tolerations",
            [
                {"operator": "Exists"},
                {"key": "k", "value": "v", "effect": "NoExecute", "tolerationSeconds": 30},
            ],
        ),
        _set("spec.monitoring", {"podMonitor": {"interval": "0"}}),
        _set("spec.decode.resources", {"limits": {"cpu": 2}, "requests": {"cpu": "1500m"}}),
    ],
    ids=[
        "minimal",
        "full prefill/decode",
        "similar flags and the model path as a flag value",
        "valid tolerations",
        "zero interval",
        "numeric quantity within its limit",
    ],
)
def test_valid_objects_pass(obj: dict[str, Any]) -> None:
    report = validation.validate(_stored(obj), SETTINGS)
    assert report.errors == ()
    assert report.model is not None


INVALID = [
    # types, required fields, enums, bounds
    ("spec.engine.port", 0, "spec.engine.port"),
    ("spec.engine.port", 65536, "spec.engine.port"),
    ("spec.engine.port", "8000", "spec.engine.port"),
    ("spec.routingProxy.targetPort", 70000, "spec.routingProxy.targetPort"),
    ("spec.inferencePool.endpointPicker.port", -1, "spec.inferencePool.endpointPicker.port"),
    ("spec.decode.replicas", -1, "spec.decode.replicas"),
    ("spec.prefill.replicas", True, "spec.prefill.replicas"),
    ("spec.inferencePool.endpointPicker.replicas", -2, "spec.inferencePool.endpointPicker.replicas"),
    ("spec.decode.parallelism", {"tensor": 0}, "spec.decode.parallelism.tensor"),
    ("spec.decode.parallelism", {"dataLocal": -1}, "spec.decode.parallelism.dataLocal"),
    ("spec.model.name", "", "spec.model.name"),
    ("spec.model.name", "x" * 254, "spec.model.name"),
    ("spec.model.image", "", "spec.model.image"),
    ("spec.model.image", ..., "spec.model.image"),
    ("spec.accelerator", ..., "spec.accelerator"),
    ("spec.accelerator.type", "tpu", "spec.accelerator.type"),
    (
        "spec.inferencePool.endpointPicker.failureMode",
        "FailSoft",
        "spec.inferencePool.endpointPicker.failureMode",
    ),
    ("spec.engine.imagePullPolicy", "Sometimes", "spec.engine.imagePullPolicy"),
    ("spec.httpRoute.gatewayRef.name", "", "spec.httpRoute.gatewayRef.name"),
    ("spec.httpRoute.gatewayRef", ..., "spec.httpRoute.gatewayRef"),
    ("spec.decode.nodeSelector", {"zone": 1}, "spec.decode.nodeSelector[zone]"),
    ("spec.routingProxy.secureProxy", "yes", "spec.routingProxy.secureProxy"),
    # quantities and resources
    ("spec.decode.resources", {"limits": {"memory": "16GB"}}, "spec.decode.resources.limits[memory]"),
    ("spec.decode.resources", {"requests": {"cpu": "1.5.2"}}, "spec.decode.resources.requests[cpu]"),
    (
        "spec.decode.resources",
        {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}},
        "spec.decode.resources.requests[cpu]",
    ),
    # env vars
    ("spec.engine.env", [{"name": "1X", "value": "v"}], "spec.engine.env[0].name"),
    ("spec.engine.env", [{"name": "A B", "value": "v"}], "spec.engine.env[0].name"),
    ("spec.engine.env", [{"value": "v"}], "spec.engine.env[0].name"),
    (
        "spec.engine.env",
        [{"name": "A", "value": "v", "valueFrom": {"fieldRef": {"fieldPath": "x"}}}],
        "spec.engine.env[0].valueFrom",
    ),
    ("spec.engine.env", [{"name": "A", "valueFrom": {}}], "spec.engine.env[0].valueFrom"),
    (
        "spec.engine.env",
        [{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "x"}, "secretKeyRef": {"key": "k"}}}],
        "spec.engine.env[0].valueFrom",
    ),
    (
        "spec.engine.env",
        [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "s"}}}],
        "spec.engine.env[0].valueFrom.secretKeyRef.key",
    ),
    # tolerations
    (
        "spec.decode.tolerations",
        [{"key": "k", "operator": "Exists", "value": "v"}],
        "spec.decode.tolerations[0].value",
    ),
    ("spec.decode.tolerations", [{"key": "k", "operator": "Maybe"}], "spec.decode.tolerations[0].operator"),
    ("spec.decode.tolerations", [{"key": "k", "effect": "NoRun"}], "spec.decode.tolerations[0].effect"),
    ("spec.decode.tolerations", [{"operator": "Equal", "value": "v"}], "spec.decode.tolerations[0].operator"),
    (
        "spec.decode.tolerations",
        [{"key": "k", "effect": "NoSchedule", "tolerationSeconds": 5}],
        "spec.decode.tolerations[0].effect",
    ),
    # unknown fields
    ("spec.engine.prot", 8000, "spec.engine.prot"),
    (
        "spec.decode.tolerations",
        [{"key": "k", "operator": "Exists", "efect": "NoSchedule"}],
        "spec.decode.tolerations[0].efect",
    ),
    (
        "spec.engine.env",
        [{"name": "A", "valueFrom": {"secretKeyRef": {"key": "k", "nam": "s"}}}],
        "spec.engine.env[0].valueFrom.secretKeyRef.nam",
    ),
    ("spec.extra", {}, "spec.extra"),
    # cross-field rules
    ("spec.routingProxy", ..., "spec.routingProxy"),
    ("spec.routingProxy.targetPort", 8000, "spec.routingProxy.targetPort"),
    ("spec.inferencePool.endpointPicker.port", 9003, "spec.inferencePool.endpointPicker.port"),
    ("spec.inferencePool.endpointPicker.port", 9090, "spec.inferencePool.endpointPicker.port"),
    ("spec.monitoring.podMonitor.interval", "5x", "spec.monitoring.podMonitor.interval"),
    ("spec.monitoring.podMonitor.interval", "", "spec.monitoring.podMonitor.interval"),
    ("spec.monitoring.podMonitor.interval", "1m 30s", "spec.monitoring.podMonitor.interval"),
    # operator-owned engine flags
    ("spec.engine.args", ["--max-model-len", "1", "--port", "9"], "spec.engine.args[2]"),
    ("spec.engine.args", ["--served-model-name=x"], "spec.engine.args[0]"),
    ("spec.engine.args", ["--tensor-parallel-size", "2"], "spec.engine.args[0]"),
    ("spec.engine.args", ["--data-parallel-size=2"], "spec.engine.args[0]"),
    ("spec.engine.args", ["--enforce-eager=true", "--data-parallel-size-local", "2"], "spec.engine.args[1]"),
    ("spec.engine.args", ["/models"], "spec.engine.args[0]"),
    # derived names
    ("metadata.name", "a" * 60, "metadata.name"),
    ("metadata.name", "Bad_Name", "metadata.name"),
]


@pytest.mark.parametrize(
    ("field", "value", "path"), INVALID, ids=[f"{p} <- {v!r}"[:80] for _, v, p in INVALID]
)
def test_each_invalid_value_is_reported_at_its_exact_path(field: str, value: Any, path: str) -> None:
    assert path in _paths(_set(field, value))


def test_every_error_is_reported_at_once_sorted_by_path() -> None:
    obj = _set("spec.engine.port", 0)
    obj["spec"]["decode"]["replicas"] = -1
    obj["spec"]["engine"]["prot"] = 1
    assert _paths(obj) == ["spec.decode.replicas", "spec.engine.port", "spec.engine.prot"]


def test_rules_needing_a_parsed_model_still_run_alongside_unknown_fields() -> None:
    obj = _set("spec.engine.args", ["--port", "1"])
    obj["spec"]["engine"]["prot"] = 1
    assert _paths(obj) == ["spec.engine.args[0]", "spec.engine.prot"]


def test_error_messages_name_the_flag() -> None:
    report = validation.validate(_stored(_set("spec.engine.args", ["--port=1"])), SETTINGS)
    assert str(report.errors[0]) == (
        "spec.engine.args[0]: Forbidden: --port is set by the operator (from the spec); remove it from args"
    )


@pytest.mark.parametrize(
    ("resources", "accelerator", "warning"),
    [
        (
            {"limits": {"nvidia.com/gpu": 8}},
            "nvidia",
            "spec.decode.resources.limits[nvidia.com/gpu]: set by hand; the operator replaces it with 2",
        ),
        (
            {"requests": {"amd.com/gpu": "1"}},
            "nvidia",
            "spec.decode.resources.requests[amd.com/gpu]: does not match spec.accelerator.type 'nvidia'",
        ),
        (
            {"limits": {"google.com/tpu": 4}},
            "google",
            "spec.decode.resources.limits[google.com/tpu]: set by hand",
        ),
    ],
    ids=["own vendor is replaced", "other vendor is kept", "tpu"],
)
def test_gpu_resources_set_by_hand_warn(resources: dict[str, Any], accelerator: str, warning: str) -> None:
    obj = _set("spec.decode.resources", resources)
    obj["spec"]["accelerator"]["type"] = accelerator
    report = validation.validate(_stored(obj), SETTINGS)
    assert report.errors == ()
    assert len(report.warnings) == 1
    assert report.warnings[0].startswith(warning)


POLICY = OperatorSettings(allowed_image_prefixes=("ghcr.io/llm-d/", "harbor.local/vllm"))


@pytest.mark.parametrize(
    ("image", "allowed"),
    [
        ("ghcr.io/llm-d/llm-d-cuda:v1", True),
        ("harbor.local/vllm:v1", True),
        ("harbor.local/vllm/cuda:v1", True),
        ("harbor.local/vllm-evil:v1", False),
        ("docker.io/evil/epp:v1", False),
        ("ghcr.io/llm-d", False),
    ],
    ids=[
        "allowed registry path",
        "prefix then tag",
        "prefix then path",
        "prefix without a boundary",
        "other registry",
        "shorter than the prefix",
    ],
)
def test_image_prefixes_match_at_a_boundary(image: str, allowed: bool) -> None:
    assert validation.image_allowed(image, POLICY.allowed_image_prefixes) is allowed


@pytest.mark.parametrize(
    ("field", "image", "path"),
    [
        ("spec.engine.image", "docker.io/evil/vllm:1", "spec.engine.image"),
        ("spec.routingProxy.image", "docker.io/evil/proxy:1", "spec.routingProxy.image"),
        (
            "spec.inferencePool.endpointPicker.image",
            "docker.io/evil/epp:1",
            "spec.inferencePool.endpointPicker.image",
        ),
    ],
    ids=["engine", "routing proxy", "endpoint picker"],
)
def test_image_policy_rejects_each_image_field(field: str, image: str, path: str) -> None:
    errors = validation.validate(_stored(_set(field, image)), POLICY).errors
    assert [(e.path, e.policy) for e in errors] == [(path, True)]


def test_image_policy_checks_the_operator_default_when_the_field_is_empty() -> None:
    settings = OperatorSettings(allowed_image_prefixes=("harbor.local/",))
    errors = validation.validate(samples.minimal(), settings).errors
    assert [e.path for e in errors] == ["spec.engine.image", "spec.inferencePool.endpointPicker.image"]
    assert "(the operator's default image)" in errors[0].message


def test_empty_policy_allows_every_image() -> None:
    assert validation.validate(_stored(_set("spec.engine.image", "anything:1")), SETTINGS).errors == ()


@pytest.mark.parametrize(
    ("before", "after", "message"),
    [
        ("qwen3-0-6b", None, "Forbidden: removing the recorded name"),
        ("qwen3-0-6b", "other", "Forbidden: field is immutable"),
    ],
    ids=["removed", "changed"],
)
def test_recorded_name_is_permanent_on_update(before: str, after: str | None, message: str) -> None:
    old = _stored(samples.minimal())
    old["metadata"]["annotations"][names.DNS1035_NAME_ANNOTATION] = before
    new = _stored(samples.minimal())
    if after is None:
        del new["metadata"]["annotations"][names.DNS1035_NAME_ANNOTATION]
    else:
        new["metadata"]["annotations"][names.DNS1035_NAME_ANNOTATION] = after
    errors = validation.validate(new, SETTINGS, old).errors
    assert [e.path for e in errors] == [ANNOTATION_PATH]
    assert errors[0].message.startswith(message)


def test_recorded_name_must_be_the_sanitized_name_on_create() -> None:
    obj = _stored(samples.minimal())
    obj["metadata"]["annotations"][names.DNS1035_NAME_ANNOTATION] = "someone-else"
    errors = validation.validate(obj, SETTINGS, creating=True).errors
    assert [e.path for e in errors] == [ANNOTATION_PATH]
    assert validation.validate(_stored(samples.minimal()), SETTINGS, creating=True).errors == ()


def test_pydantic_reasons_map_to_kubernetes_cause_types() -> None:
    obj = _set("spec.accelerator.type", "tpu")
    obj["spec"]["model"].pop("image")
    obj["spec"]["engine"]["port"] = "x"
    reasons = {e.path: e.reason for e in validation.validate(_stored(obj), SETTINGS).errors}
    assert reasons == {
        "spec.accelerator.type": "FieldValueNotSupported",
        "spec.model.image": "FieldValueRequired",
        "spec.engine.port": "FieldValueTypeInvalid",
    }


def test_a_rule_reading_an_invalid_value_stays_quiet() -> None:
    obj = _set("spec.engine.port", "x")
    obj["spec"]["routingProxy"] = {"targetPort": 8000}
    obj["spec"]["engine"]["args"] = ["--port", "1"]
    assert _paths(obj) == ["spec.engine.args[0]", "spec.engine.port"]


def test_a_missing_required_section_still_reports_unknown_fields() -> None:
    obj = _set("spec.model", ...)
    obj["spec"]["engine"]["prot"] = 1
    assert _paths(obj) == ["spec.engine.prot", "spec.model"]
