"""Schema defaulting as patch operations: the CRD's defaults, only under existing parents."""

from __future__ import annotations

import re
from typing import Any

import jsonpatch
import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared import crd, defaulting, names
from shared.defaulting import PatchOp
from shared.settings import OperatorSettings
from tests.webhook import samples

SETTINGS = OperatorSettings()
ANNOTATION = names.DNS1035_NAME_ANNOTATION
# The quantity pattern of the Kubernetes OpenAPI schema (resource.Quantity).
K8S_QUANTITY = re.compile(
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)


def _with_float_quantities() -> dict[str, Any]:
    obj = samples.with_changes(
        samples.full_pd(),
        "spec.decode.resources",
        {"limits": {"cpu": 1.5, "memory": "8Gi"}, "requests": {"cpu": 0.5}},
    )
    obj["spec"]["prefill"]["resources"] = {"requests": {"cpu": 2, "memory": 1.6e10}}
    obj["spec"]["inferencePool"]["endpointPicker"]["resources"] = {"limits": {"cpu": 0.25}}
    obj["spec"]["engine"]["env"].append(
        {"name": "CPUS", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": 0.1}}}
    )
    return obj


def _defaults_by_path(node: defaulting.Node, path: str = "spec") -> dict[str, Any]:
    out = {f"{path}.{k}": v for k, v in node.defaults.items()}
    for key, child in node.fields.items():
        sub = f"{path}.{key}" if child.kind == "object" else f"{path}.{key}[]"
        if child.kind == "object":
            out |= _defaults_by_path(child, sub)
        elif child.item is not None and child.item.kind == "object":
            out |= _defaults_by_path(child.item, sub)
    return out


def test_the_schema_defaults_are_exactly_the_crd_defaulting_summary() -> None:
    spec = defaulting.schema_tree().fields["spec"]
    found = {
        k.replace("decode.", "<role>.").replace("prefill.", "<role>."): v
        for k, v in _defaults_by_path(spec).items()
    }
    assert found == {
        "spec.model.mountPath": "/models",
        "spec.model.imagePullSecrets[].name": "",
        "spec.engine.port": 8000,
        "spec.engine.env[].valueFrom.configMapKeyRef.name": "",
        "spec.engine.env[].valueFrom.secretKeyRef.name": "",
        "spec.engine.env[].valueFrom.fileKeyRef.optional": False,
        "spec.<role>.autoscaling.engine": "hpa",
        "spec.<role>.autoscaling.minReplicas": 1,
        "spec.<role>.parallelism.tensor": 1,
        "spec.<role>.parallelism.data": 1,
        "spec.<role>.parallelism.dataLocal": 1,
        "spec.routingProxy.connector": "nixlv2",
        "spec.routingProxy.targetPort": 8200,
        "spec.inferencePool.endpointPicker.replicas": 1,
        "spec.inferencePool.endpointPicker.port": 9002,
        "spec.inferencePool.endpointPicker.failureMode": "FailOpen",
        "spec.monitoring.podMonitor.enabled": False,
        "spec.monitoring.podMonitor.portName": "http",
        "spec.monitoring.podMonitor.path": "/metrics",
        "spec.monitoring.podMonitor.interval": "30s",
    }


def test_minimal_object_gets_the_name_record_engine_image_and_top_level_defaults() -> None:
    ops = defaulting.default_ops(samples.minimal(), SETTINGS)
    assert ops == [
        {"op": "add", "path": "/metadata/annotations", "value": {ANNOTATION: "qwen3-0-6b"}},
        {"op": "add", "path": "/spec/engine/image", "value": SETTINGS.default_engine_image},
        {"op": "add", "path": "/spec/model/mountPath", "value": "/models"},
        {"op": "add", "path": "/spec/engine/port", "value": 8000},
        {"op": "add", "path": "/spec/decode/replicas", "value": 1},
    ]


@pytest.mark.parametrize(
    "obj",
    [
        samples.minimal(),
        samples.full_pd(),
        samples.with_changes(samples.full_pd(), "spec.engine.image", None),
        _with_float_quantities(),
    ],
    ids=["minimal", "full prefill/decode", "null image", "float quantities"],
)
def test_ops_equal_what_a_json_diff_of_the_defaulted_object_finds(obj: dict[str, Any]) -> None:
    ops = defaulting.default_ops(obj, SETTINGS)
    result = defaulting.apply_ops(obj, ops)
    assert jsonpatch.apply_patch(obj, ops) == result
    assert sorted(p["path"] for p in jsonpatch.make_patch(obj, result).patch) == sorted(
        o["path"] for o in ops
    )


@pytest.mark.parametrize(
    "obj",
    [samples.minimal(), samples.full_pd(), _with_float_quantities()],
    ids=["minimal", "full prefill/decode", "float quantities"],
)
def test_defaulting_the_defaulted_object_changes_nothing(obj: dict[str, Any]) -> None:
    once = defaulting.defaulted(obj, SETTINGS)
    assert defaulting.default_ops(once, SETTINGS) == []


@pytest.mark.parametrize(
    ("obj", "absent"),
    [
        (
            samples.minimal(),
            ["/spec/prefill", "/spec/routingProxy", "/spec/inferencePool", "/spec/monitoring"],
        ),
        (
            samples.with_changes(samples.minimal(), "spec.decode", {"replicas": 3}),
            ["/spec/decode/parallelism"],
        ),
        (samples.with_changes(samples.minimal(), "spec.prefill", None), ["/spec/prefill/replicas"]),
    ],
    ids=["absent sections stay absent", "no parallelism object, no tensor", "null section is absent"],
)
def test_defaults_apply_only_where_the_parent_exists(obj: dict[str, Any], absent: list[str]) -> None:
    paths = [o["path"] for o in defaulting.default_ops(obj, SETTINGS)]
    assert not [p for p in paths for a in absent if p.startswith(a)]


def test_present_sections_receive_their_nested_defaults() -> None:
    obj = samples.with_changes(samples.minimal(), "spec.prefill", {"parallelism": {"tensor": 4}})
    obj["spec"]["engine"]["env"] = [
        {"name": "A", "valueFrom": {"fileKeyRef": {"key": "k", "path": "p", "volumeName": "v"}}}
    ]
    values = {o["path"]: o["value"] for o in defaulting.default_ops(obj, SETTINGS)}
    assert values["/spec/prefill/replicas"] == 1
    assert values["/spec/prefill/parallelism/data"] == 1
    assert "/spec/prefill/parallelism/tensor" not in values
    assert values["/spec/engine/env/0/valueFrom/fileKeyRef/optional"] is False


def test_explicit_values_are_never_overwritten() -> None:
    obj = samples.with_changes(samples.minimal(), "spec.engine", {"port": 9000, "image": "my/vllm:1"})
    paths = [o["path"] for o in defaulting.default_ops(obj, SETTINGS)]
    assert "/spec/engine/port" not in paths
    assert "/spec/engine/image" not in paths


def test_null_and_empty_values_are_replaced_not_added() -> None:
    obj = samples.with_changes(samples.minimal(), "spec.engine", {"port": None, "image": ""})
    ops = {o["path"]: o["op"] for o in defaulting.default_ops(obj, SETTINGS)}
    assert ops["/spec/engine/port"] == "replace"
    assert ops["/spec/engine/image"] == "replace"


@pytest.mark.parametrize(
    ("spec_changes", "image_paths"),
    [
        ({}, ["/spec/engine/image"]),
        ({"routingProxy": {}}, ["/spec/engine/image", "/spec/routingProxy/image"]),
        (
            {"inferencePool": {"endpointPicker": {}}},
            ["/spec/engine/image", "/spec/inferencePool/endpointPicker/image"],
        ),
        ({"engine": {"image": "mine:1"}, "routingProxy": {"image": "proxy:1"}}, []),
    ],
    ids=["engine only", "routing proxy present", "endpoint picker present", "all pinned"],
)
def test_images_are_filled_where_their_owner_exists(
    spec_changes: dict[str, Any], image_paths: list[str]
) -> None:
    obj = samples.minimal()
    obj["spec"].update(spec_changes)
    paths = [o["path"] for o in defaulting.image_default_ops(obj, SETTINGS)]
    assert paths == image_paths


def test_images_stay_empty_when_persisting_them_is_off() -> None:
    paths = [o["path"] for o in defaulting.default_ops(samples.minimal(), SETTINGS, images=False)]
    assert "/spec/engine/image" not in paths


@pytest.mark.parametrize(
    ("metadata", "old", "expected"),
    [
        (
            {"name": "My_Model.v2"},
            None,
            [{"op": "add", "path": "/metadata/annotations", "value": {ANNOTATION: "my-model-v2"}}],
        ),
        (
            {"name": "m", "annotations": {"a": "b"}},
            None,
            [{"op": "add", "path": "/metadata/annotations/model.otterscale.io~1dns1035-name", "value": "m"}],
        ),
        ({"generateName": "m-"}, None, []),
        ({"name": "m", "annotations": {ANNOTATION: "m"}}, None, []),
        (
            {"name": "m"},
            {"metadata": {"annotations": {ANNOTATION: "old-value"}}},
            [{"op": "add", "path": "/metadata/annotations", "value": {ANNOTATION: "old-value"}}],
        ),
        (
            {"name": "m", "annotations": {ANNOTATION: "changed"}},
            {"metadata": {"annotations": {ANNOTATION: "m"}}},
            [],
        ),
        (
            {"name": "m"},
            {"metadata": {"name": "m"}},
            [{"op": "add", "path": "/metadata/annotations", "value": {ANNOTATION: "m"}}],
        ),
    ],
    ids=[
        "create records the sanitized name",
        "create adds to existing annotations",
        "create with generateName records nothing",
        "create keeps a present record",
        "update restores a removed record from the old object",
        "update leaves a changed record for validation to reject",
        "update of an object created before the webhook records the name",
    ],
)
def test_name_record(
    metadata: dict[str, Any], old: dict[str, Any] | None, expected: list[dict[str, Any]]
) -> None:
    assert defaulting.name_record_ops({"metadata": metadata}, old) == expected


def test_unknown_fields_and_key_order_survive_defaulting() -> None:
    obj = samples.minimal()
    obj["spec"]["engine"] = {"zzz": 1, "args": ["--x"]}
    result = defaulting.defaulted(obj, SETTINGS)
    assert list(result["spec"]["engine"]) == ["zzz", "args", "image", "port"]


@pytest.mark.parametrize(
    "obj",
    [{}, {"spec": []}, {"spec": {"engine": "x", "decode": [1], "model": None}}, {"metadata": "x"}],
    ids=["empty", "spec is a list", "sections of the wrong type", "metadata of the wrong type"],
)
def test_malformed_objects_get_no_defaults_and_no_crash(obj: dict[str, Any]) -> None:
    assert defaulting.default_ops(obj, SETTINGS) == []


def _replace(path: str, value: str) -> dict[str, Any]:
    return {"op": "replace", "path": path, "value": value}


@pytest.mark.parametrize(
    ("field", "value", "ops"),
    [
        (
            "spec.decode.resources",
            {"limits": {"cpu": 1.5, "memory": "8Gi"}, "requests": {"cpu": 0.5}},
            [
                _replace("/spec/decode/resources/limits/cpu", "1.5"),
                _replace("/spec/decode/resources/requests/cpu", "0.5"),
            ],
        ),
        (
            "spec.prefill",
            {"resources": {"requests": {"memory": 1e9}}},
            [_replace("/spec/prefill/resources/requests/memory", "1000000000.0")],
        ),
        (
            "spec.inferencePool",
            {"endpointPicker": {"resources": {"limits": {"memory": 1e21}}}},
            [_replace("/spec/inferencePool/endpointPicker/resources/limits/memory", "1e+21")],
        ),
        (
            "spec.decode.resources",
            {"limits": {"example.com/dongle": 2.0}, "requests": {"cpu": 1e-7}},
            [
                _replace("/spec/decode/resources/limits/example.com~1dongle", "2.0"),
                _replace("/spec/decode/resources/requests/cpu", "1e-07"),
            ],
        ),
        (
            "spec.engine.env",
            [
                {"name": "A", "value": "1"},
                {
                    "name": "B",
                    "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": 0.001}},
                },
            ],
            [_replace("/spec/engine/env/1/valueFrom/resourceFieldRef/divisor", "0.001")],
        ),
        ("spec.decode.resources", {"limits": {"cpu": 4, "memory": "8Gi"}, "requests": {"cpu": True}}, []),
        ("spec.decode.resources", {"limits": {"cpu": float("inf")}, "requests": [1.5]}, []),
        ("spec.decode", [{"resources": {"limits": {"cpu": 1.5}}}], []),
        ("spec.engine.env", [{"name": "A", "valueFrom": {"resourceFieldRef": {"divisor": 1}}}, 1.5], []),
    ],
    ids=[
        "decode limits and requests",
        "prefill, a float written in exponent form",
        "endpoint picker, a float too large for fixed notation",
        "a key with a slash is escaped, a tiny float",
        "resourceFieldRef divisor",
        "integers, strings and booleans are left as written",
        "non-finite floats and malformed maps are left for validation",
        "decode of the wrong type",
        "integer divisor and a malformed env list",
    ],
)
def test_float_quantities_are_rewritten_as_strings(field: str, value: Any, ops: list[dict[str, Any]]) -> None:
    obj = samples.with_changes(samples.minimal(), field, value)
    assert defaulting.quantity_ops(obj) == ops


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_every_finite_float_becomes_a_kubernetes_quantity(value: float) -> None:
    assert K8S_QUANTITY.match(defaulting.quantity_text(value))


def test_float_quantities_pass_the_crd_schema_only_once_mutated() -> None:
    schema = crd.build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    obj = _with_float_quantities()
    assert not jsonschema.Draft4Validator(schema).is_valid(obj)
    jsonschema.Draft4Validator(schema).validate(defaulting.defaulted(obj, SETTINGS))


# --- replicas: the one default that depends on a sibling ------------------------------------------

REPLICAS_CASES: list[tuple[str, dict[str, Any], list[PatchOp]]] = [
    ("decode without replicas", {"decode": {}}, [{"op": "add", "path": "/spec/decode/replicas", "value": 1}]),
    (
        "null replicas",
        {"decode": {"replicas": None}},
        [{"op": "replace", "path": "/spec/decode/replicas", "value": 1}],
    ),
    ("written replicas are kept", {"decode": {"replicas": 3}}, []),
    ("autoscaled decode gets none", {"decode": {"autoscaling": {"maxReplicas": 2}}}, []),
    (
        "autoscaled decode, plain prefill",
        {"decode": {"autoscaling": {"maxReplicas": 2}}, "prefill": {}},
        [{"op": "add", "path": "/spec/prefill/replicas", "value": 1}],
    ),
    ("no prefill, no prefill replicas", {"decode": {"replicas": 1}, "prefill": None}, []),
]


@pytest.mark.parametrize(
    ("spec", "expected"), [c[1:] for c in REPLICAS_CASES], ids=[c[0] for c in REPLICAS_CASES]
)
def test_replicas_default_to_one_only_where_no_autoscaler_owns_them(
    spec: dict[str, Any], expected: list[PatchOp]
) -> None:
    obj = samples.minimal()
    for key, value in spec.items():
        obj = samples.with_changes(obj, f"spec.{key}", value)
    assert defaulting.replicas_default_ops(obj) == expected


def test_float_autoscaling_targets_become_strings_the_schema_admits() -> None:
    scaling = {
        "maxReplicas": 2,
        "kvCacheUsage": 0.8,
        "requestsWaiting": 5,
        "metrics": [{"name": "m", "averageValue": 2.5}],
    }
    obj = samples.with_changes(samples.minimal(), "spec.decode", {"autoscaling": scaling})
    stored = defaulting.defaulted(obj, SETTINGS)["spec"]["decode"]
    assert stored == {
        "autoscaling": {
            "engine": "hpa",
            "minReplicas": 1,
            "maxReplicas": 2,
            "kvCacheUsage": "0.8",
            "requestsWaiting": 5,
            "metrics": [{"name": "m", "averageValue": "2.5"}],
        }
    }
