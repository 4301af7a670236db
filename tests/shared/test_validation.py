"""Validation rules: each invalid case names its exact field path; valid cases pass clean."""

from __future__ import annotations

from typing import Any

import pytest

from shared import defaulting, namecheck, names, spec_rules, validation
from shared.api import ModelService
from shared.builders import vllm
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
        _set(
            "spec.httpRoute",
            {
                "gatewayRef": {"name": "gw.prod", "namespace": ""},
                "hostnames": ["*.example.com", "llm.example.com", "a-b.c", "localhost", "1a.example.com"],
            },
        ),
        _set("spec.httpRoute.hostnames", [f"h{i}.example.com" for i in range(16)]),
        _set(
            "spec.decode.nodeSelector",
            {"kubernetes.io/hostname": "node-1", "tier": "", "nvidia.com/gpu.product": "H100_80GB.HBM3"},
        ),
        _set(
            "spec.prefill.annotations", {"Example.COM/Key": "x", "a_b.c": "y", "sidecar.istio.io/inject": ""}
        ),
        _set("spec.model.imagePullSecrets", [{"name": "harbor-pull"}, {"name": "registry.example.com"}]),
        _set("spec.monitoring", {"podMonitor": {"portName": "metrics-2", "path": "/v1/metrics"}}),
        _set("spec.engine.env", [{"name": "VLLM_NIXL_SIDE_CHANNEL_PORT", "value": "8001"}]),
    ],
    ids=[
        "minimal",
        "full prefill/decode",
        "similar flags and the model path as a flag value",
        "valid tolerations",
        "zero interval",
        "numeric quantity within its limit",
        "hostnames, a wildcard and an empty gateway namespace",
        "sixteen hostnames",
        "node selector with prefixes and an empty value",
        "annotation keys are checked case-insensitively",
        "named pull secrets",
        "custom PodMonitor port name and path",
        "NIXL port next to the serving ports",
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
    # formats the children enforce: HTTPRoute
    ("spec.httpRoute.hostnames", ["llm.example.com", "LLM.example.com"], "spec.httpRoute.hostnames[1]"),
    ("spec.httpRoute.hostnames", ["*.*.example.com"], "spec.httpRoute.hostnames[0]"),
    ("spec.httpRoute.hostnames", ["llm.*.example.com"], "spec.httpRoute.hostnames[0]"),
    ("spec.httpRoute.hostnames", ["10.0.0.1"], "spec.httpRoute.hostnames[0]"),
    ("spec.httpRoute.hostnames", ["example.com."], "spec.httpRoute.hostnames[0]"),
    ("spec.httpRoute.hostnames", ["llm.example.com:8080"], "spec.httpRoute.hostnames[0]"),
    ("spec.httpRoute.hostnames", [""], "spec.httpRoute.hostnames[0]"),
    (
        "spec.httpRoute.hostnames",
        [".".join(["a" * 63] * 4)],
        "spec.httpRoute.hostnames[0]",
    ),
    ("spec.httpRoute.hostnames", [f"h{i}.example.com" for i in range(17)], "spec.httpRoute.hostnames"),
    ("spec.httpRoute.gatewayRef", {"name": "Gateway_1"}, "spec.httpRoute.gatewayRef.name"),
    ("spec.httpRoute.gatewayRef", {"name": "g" * 254}, "spec.httpRoute.gatewayRef.name"),
    (
        "spec.httpRoute.gatewayRef",
        {"name": "gw", "namespace": "gateways.prod"},
        "spec.httpRoute.gatewayRef.namespace",
    ),
    (
        "spec.httpRoute.gatewayRef",
        {"name": "gw", "namespace": "n" * 64},
        "spec.httpRoute.gatewayRef.namespace",
    ),
    # pull secrets
    ("spec.model.imagePullSecrets", [{}], "spec.model.imagePullSecrets[0].name"),
    ("spec.model.imagePullSecrets", [{"name": "ok"}, {"name": ""}], "spec.model.imagePullSecrets[1].name"),
    ("spec.model.imagePullSecrets", [{"name": "Harbor_Pull"}], "spec.model.imagePullSecrets[0].name"),
    # PodMonitor endpoint
    (
        "spec.monitoring",
        {"podMonitor": {"portName": "metrics-endpoint"}},
        "spec.monitoring.podMonitor.portName",
    ),
    ("spec.monitoring", {"podMonitor": {"portName": "8080"}}, "spec.monitoring.podMonitor.portName"),
    ("spec.monitoring", {"podMonitor": {"portName": "http--alt"}}, "spec.monitoring.podMonitor.portName"),
    ("spec.monitoring", {"podMonitor": {"portName": "-http"}}, "spec.monitoring.podMonitor.portName"),
    ("spec.monitoring", {"podMonitor": {"portName": "HTTP"}}, "spec.monitoring.podMonitor.portName"),
    ("spec.monitoring", {"podMonitor": {"portName": ""}}, "spec.monitoring.podMonitor.portName"),
    ("spec.monitoring", {"podMonitor": {"path": "metrics"}}, "spec.monitoring.podMonitor.path"),
    ("spec.monitoring", {"podMonitor": {"path": ""}}, "spec.monitoring.podMonitor.path"),
    # pod template labels and annotations
    ("spec.decode.nodeSelector", {"bad key": "v"}, "spec.decode.nodeSelector[bad key]"),
    ("spec.decode.nodeSelector", {"Example.com/zone": "a"}, "spec.decode.nodeSelector[Example.com/zone]"),
    ("spec.decode.nodeSelector", {"a/b/c": "a"}, "spec.decode.nodeSelector[a/b/c]"),
    ("spec.decode.nodeSelector", {"": "a"}, "spec.decode.nodeSelector[]"),
    ("spec.prefill.nodeSelector", {"zone": "a b"}, "spec.prefill.nodeSelector[zone]"),
    ("spec.prefill.nodeSelector", {"zone": "x" * 64}, "spec.prefill.nodeSelector[zone]"),
    ("spec.decode.annotations", {"a/b/c": "v"}, "spec.decode.annotations[a/b/c]"),
    ("spec.prefill.annotations", {"-x": "v"}, "spec.prefill.annotations[-x]"),
    ("spec.decode.annotations", {"/x": "v"}, "spec.decode.annotations[/x]"),
    ("spec.decode.annotations", {"x" * 64: "v"}, "spec.decode.annotations[" + "x" * 64 + "]"),
    ("spec.decode.annotations", {"big": "x" * (256 * 1024)}, "spec.decode.annotations"),
    # the NIXL side channel needs a port of its own (full_pd runs the routing proxy)
    (
        "spec.engine.env",
        [{"name": "VLLM_NIXL_SIDE_CHANNEL_PORT", "value": "8000"}],
        "spec.engine.env[0].value",
    ),
    (
        "spec.engine.env",
        [{"name": "VLLM_NIXL_SIDE_CHANNEL_PORT", "value": "8200"}],
        "spec.engine.env[0].value",
    ),
    # quantities
    (
        "spec.engine.env",
        [{"name": "A", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1x"}}}],
        "spec.engine.env[0].valueFrom.resourceFieldRef.divisor",
    ),
]


@pytest.mark.parametrize(
    ("field", "value", "path"), INVALID, ids=[f"{p} <- {v!r}"[:80] for _, v, p in INVALID]
)
def test_each_invalid_value_is_reported_at_its_exact_path_only(field: str, value: Any, path: str) -> None:
    assert set(_paths(_set(field, value))) == {path}


NIXL = "VLLM_NIXL_SIDE_CHANNEL_PORT"


def _nixl(value: str, proxy: dict[str, Any] | None = None, before: int = 0) -> dict[str, Any]:
    obj = _set(
        "spec.engine.env", [{"name": f"OTHER_{i}", "value": "x"} for i in range(before)], samples.minimal()
    )
    obj["spec"]["engine"]["env"].append({"name": NIXL, "value": value})
    if proxy is not None:
        obj["spec"]["routingProxy"] = proxy
    return obj


@pytest.mark.parametrize(
    ("obj", "error"),
    [
        (
            _nixl("8000"),
            "spec.engine.env[0].value: Invalid value: '8000': VLLM_NIXL_SIDE_CHANNEL_PORT equals "
            "spec.engine.port (8000), where vLLM listens; the side channel needs a port of its own",
        ),
        (
            _nixl("+8000", before=2),
            "spec.engine.env[2].value: Invalid value: '+8000': VLLM_NIXL_SIDE_CHANNEL_PORT equals "
            "spec.engine.port (8000), where vLLM listens; the side channel needs a port of its own",
        ),
        (
            _nixl("8000", proxy={}),
            "spec.engine.env[0].value: Invalid value: '8000': VLLM_NIXL_SIDE_CHANNEL_PORT equals "
            "spec.engine.port (8000), where the routing proxy listens; the side channel needs a port of its "
            "own",
        ),
        (
            _nixl("9100", proxy={"targetPort": 9100}),
            "spec.engine.env[0].value: Invalid value: '9100': VLLM_NIXL_SIDE_CHANNEL_PORT equals "
            "spec.routingProxy.targetPort (9100), where vLLM listens; the side channel needs a port of its "
            "own",
        ),
    ],
    ids=[
        "vLLM port",
        "vLLM port with a sign, after other vars",
        "routing proxy port",
        "vLLM behind the proxy",
    ],
)
def test_nixl_port_colliding_with_a_serving_port_is_an_error_naming_both(
    obj: dict[str, Any], error: str
) -> None:
    assert [str(e) for e in validation.validate(_stored(obj), SETTINGS).errors] == [error]


def test_only_the_first_nixl_entry_counts_like_in_the_builders() -> None:
    obj = _nixl("5600")
    obj["spec"]["engine"]["env"].append({"name": NIXL, "value": "8000"})
    report = validation.validate(_stored(obj), SETTINGS)
    assert (report.errors, report.warnings) == ((), ())


def test_nixl_collision_is_not_reported_when_the_port_it_reads_is_invalid() -> None:
    obj = _nixl("8000")
    obj["spec"]["engine"]["port"] = "8000"
    assert _paths(obj) == ["spec.engine.port"]


@pytest.mark.parametrize(
    ("env", "warning"),
    [
        (
            {"name": NIXL, "value": "abc"},
            "spec.engine.env[0].value: 'abc' is not an integer in 1..65535; the operator ignores it and "
            "declares no side-channel container port",
        ),
        (
            {"name": NIXL, "value": "0"},
            "spec.engine.env[0].value: '0' is not an integer in 1..65535; the operator ignores it and "
            "declares no side-channel container port",
        ),
        (
            {"name": NIXL, "value": "65536"},
            "spec.engine.env[0].value: '65536' is not an integer in 1..65535; the operator ignores it and "
            "declares no side-channel container port",
        ),
        (
            {"name": NIXL, "valueFrom": {"fieldRef": {"fieldPath": "metadata.annotations['nixl']"}}},
            "spec.engine.env[0]: VLLM_NIXL_SIDE_CHANNEL_PORT has no literal value; the operator declares no "
            "side-channel container port for it",
        ),
    ],
    ids=["not a number", "zero", "above 65535", "from a field"],
)
def test_nixl_port_the_builders_ignore_is_a_warning(env: dict[str, Any], warning: str) -> None:
    report = validation.validate(_stored(_set("spec.engine.env", [env], samples.minimal())), SETTINGS)
    assert (report.errors, report.warnings) == ((), (warning,))


@pytest.mark.parametrize(
    "value", ["5600", "+5600", "05600", "-1", "0", "65535", "65536", " 1", "1_0", "\u0661", "x"]
)
def test_nixl_port_is_read_as_the_builders_read_it(value: str) -> None:
    ms = ModelService.model_validate(_nixl(value))
    assert spec_rules.nixl_port(value) == vllm.nixl_side_channel_port(ms)


@pytest.mark.parametrize(
    "resources",
    [
        {"limits": {"cpu": 1.5, "memory": 3.2e10}, "requests": {"cpu": 0.5, "memory": 17179869184}},
        {"limits": {"cpu": 4}, "requests": {"cpu": 3.999}},
        {"requests": {"cpu": 1e-3}},
    ],
    ids=["floats and a big int", "float request below an int limit", "float in exponent form"],
)
def test_numeric_quantities_are_valid_before_mutation_rewrites_them(resources: dict[str, Any]) -> None:
    obj = _set("spec.decode.resources", resources, samples.minimal())
    obj["spec"]["prefill"] = {"resources": resources}
    obj["spec"]["routingProxy"] = {}
    obj["spec"]["inferencePool"] = {"endpointPicker": {"resources": resources}}
    obj["spec"]["engine"]["env"] = [
        {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": 0.5}}}
    ]
    report = validation.validate(obj, SETTINGS)
    assert (report.errors, report.warnings) == ((), ())


@pytest.mark.parametrize(
    ("value", "shown"),
    [("16GB", "'16GB'"), (True, "True"), ([1], "list"), ("", "''")],
    ids=["unknown suffix", "boolean", "list", "empty"],
)
def test_an_invalid_quantity_says_what_a_quantity_looks_like(value: Any, shown: str) -> None:
    obj = _set("spec.decode.resources", {"limits": {"cpu": value}})
    errors = validation.validate(_stored(obj), SETTINGS).errors
    assert [str(e) for e in errors] == [
        f"spec.decode.resources.limits[cpu]: Invalid value: {shown}: must be a quantity: a number with an "
        "optional suffix (Ki Mi Gi Ti Pi Ei, n u m k M G T P E, or an exponent such as e3), as a string or "
        "a number, e.g. '500m', '1.5', 2 or '8Gi'"
    ]


EPP_NAMES = {
    "EPP Service": names.epp_name,
    "EPP ConfigMap": names.epp_configmap_name,
    "EPP metrics token Secret": names.epp_secret_name,
    "EPP ClusterRole": names.epp_cluster_rbac_name,
}


@pytest.mark.parametrize(
    ("metadata", "reported"),
    [
        ({"name": "Model_" + "x" * 245, "namespace": "llm"}, set(EPP_NAMES)),
        (
            {
                "name": "N" * 250,
                "namespace": "llm",
                "annotations": {names.DNS1035_NAME_ANNOTATION: "Not_A_Label"},
            },
            set(EPP_NAMES),
        ),
        (
            {"name": "m", "namespace": "n" * 250, "annotations": {names.DNS1035_NAME_ANNOTATION: "recorded"}},
            {"EPP ClusterRole"},
        ),
    ],
    ids=["sanitized name", "invalid record falls back to the sanitized name", "recorded name"],
)
def test_name_checks_spell_the_epp_names_as_the_builders_do(
    metadata: dict[str, Any], reported: set[str]
) -> None:
    ms = ModelService.model_validate({**samples.minimal(), "metadata": metadata})
    problems = namecheck.check_names(ms)
    found = {what for what in EPP_NAMES if any(f"derived {what} name " in p.message for p in problems)}
    assert found == reported
    for what in reported:
        assert any(f"derived {what} name {EPP_NAMES[what](ms)!r} " in p.message for p in problems)


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
        "spec.engine.args[0]: Forbidden: --port is set by the operator (from spec.engine.port, or "
        "spec.routingProxy.targetPort behind the routing proxy); remove it from args"
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
