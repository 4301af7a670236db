"""The generated CRD: committed copy is current, valid, structural, and agrees with the models."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from pydantic import ValidationError

from shared import api, crd
from shared.api import ModelService
from tests.shared.test_api import DEFAULTS, MINIMAL, with_value

REPO_ROOT = Path(__file__).resolve().parents[2]
CRD_FILE = REPO_ROOT / "manifests" / "crd" / "model.otterscale.io_modelservices.yaml"

Schema = dict[str, Any]

# Keywords a structural schema may use here; anything else (title, $ref, nullable, const, oneOf,
# allOf, not ...) means the generator let a pydantic-ism through.
_ALLOWED_KEYWORDS = {
    "type",
    "description",
    "properties",
    "required",
    "items",
    "additionalProperties",
    "default",
    "enum",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "pattern",
    "format",
    "anyOf",
}
_INT_OR_STRING = [{"type": "integer"}, {"type": "string"}]


@pytest.fixture(scope="module")
def generated() -> dict[str, Any]:
    return crd.build_crd()


@pytest.fixture(scope="module")
def schema(generated: dict[str, Any]) -> Schema:
    openapi: Schema = generated["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return openapi


def walk(node: Schema, path: str = "") -> Iterator[tuple[str, Schema]]:
    """Every schema node with a readable path (``spec.decode.tolerations[]``)."""
    yield path, node
    for name, sub in node.get("properties", {}).items():
        yield from walk(sub, f"{path}.{name}" if path else name)
    if isinstance(node.get("items"), dict):
        yield from walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from walk(node["additionalProperties"], f"{path}{{}}")


def structural_problems(root: Schema) -> list[str]:
    """Violations of the Kubernetes structural-schema rules that this generator could produce."""
    problems: list[str] = []
    for path, node in walk(root):
        extra = {k for k in node if k not in _ALLOWED_KEYWORDS and not k.startswith("x-kubernetes-")}
        if extra:
            problems.append(f"{path}: forbidden keywords {sorted(extra)}")
        if node.get("x-kubernetes-int-or-string"):
            if "type" in node or node.get("anyOf") != _INT_OR_STRING:
                problems.append(f"{path}: int-or-string must have no type and anyOf integer|string")
        elif "anyOf" in node:
            problems.append(f"{path}: anyOf outside the int-or-string form")
        elif not node.get("type") and not node.get("x-kubernetes-preserve-unknown-fields"):
            problems.append(f"{path}: no type")
        if "properties" in node and "additionalProperties" in node:
            problems.append(f"{path}: both properties and additionalProperties")
        missing = set(node.get("required", ())) - set(node.get("properties", {}))
        if missing:
            problems.append(f"{path}: required fields without a schema {sorted(missing)}")
    return problems


# --- the committed file --------------------------------------------------------------------------


def test_committed_crd_equals_the_generator_output() -> None:
    assert CRD_FILE.read_text(encoding="utf-8") == crd.render_crd_yaml(), (
        f"{CRD_FILE.relative_to(REPO_ROOT)} is stale: run `make crd` and commit the result"
    )


def test_generator_output_is_deterministic() -> None:
    assert crd.render_crd_yaml() == crd.render_crd_yaml()
    assert "&id" not in crd.render_crd_yaml()


def test_crd_kustomization_lists_the_crd_file() -> None:
    kustomization = yaml.safe_load((CRD_FILE.parent / "kustomization.yaml").read_text(encoding="utf-8"))
    assert kustomization["resources"] == [CRD_FILE.name]


def test_crd_is_a_valid_apiextensions_v1_object_for_kubernetes_1_35() -> None:
    loaded = yaml.safe_load(CRD_FILE.read_text(encoding="utf-8"))
    assert kubernetes_validate.validate(loaded, "1.35", strict=True) == "1.35"


# --- identity, columns, subresources -------------------------------------------------------------


def test_crd_identity_matches_the_api(generated: dict[str, Any]) -> None:
    spec = generated["spec"]
    assert generated["metadata"]["name"] == "modelservices.model.otterscale.io"
    assert (spec["group"], spec["scope"]) == ("model.otterscale.io", "Namespaced")
    assert spec["names"] == {
        "kind": "ModelService",
        "listKind": "ModelServiceList",
        "plural": "modelservices",
        "singular": "modelservice",
        "shortNames": ["ms"],
        "categories": ["otterscale"],
    }
    [version] = spec["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
    assert version["subresources"] == {
        "status": {},
        "scale": {
            "specReplicasPath": ".spec.decode.replicas",
            "statusReplicasPath": ".status.decode.replicas",
            "labelSelectorPath": ".status.decode.selector",
        },
    }


def test_printer_columns_match_the_api(generated: dict[str, Any]) -> None:
    columns = generated["spec"]["versions"][0]["additionalPrinterColumns"]
    assert [(c["name"], c["type"], c["jsonPath"], c.get("priority", 0)) for c in columns] == [
        ("Phase", "string", ".status.phase", 0),
        ("Ready", "string", '.status.conditions[?(@.type=="Ready")].status', 0),
        ("Reason", "string", '.status.conditions[?(@.type=="Ready")].reason', 0),
        ("Model", "string", ".spec.model.name", 0),
        ("Decode", "string", ".status.decodeReady", 1),
        ("Prefill", "string", ".status.prefillReady", 1),
        ("Message", "string", '.status.conditions[?(@.type=="Ready")].message', 1),
        ("Age", "date", ".metadata.creationTimestamp", 0),
    ]


# --- structure -----------------------------------------------------------------------------------


def test_schema_is_structural(schema: Schema) -> None:
    assert structural_problems(schema) == []


@pytest.mark.parametrize(
    ("node", "problem"),
    [
        ({"properties": {"a": {"description": "x"}}, "type": "object"}, "a: no type"),
        ({"type": "object", "properties": {"a": {"type": "string", "title": "A"}}}, "forbidden keywords"),
        ({"type": "object", "properties": {"a": {"$ref": "#/x"}}}, "forbidden keywords"),
        ({"type": "object", "properties": {"a": {"anyOf": [{"type": "string"}, {"type": "null"}]}}}, "anyOf"),
        ({"type": "object", "properties": {"a": {"type": "string", "nullable": True}}}, "forbidden keywords"),
        (
            {"type": "object", "properties": {"a": {"type": "string", "x-kubernetes-int-or-string": True}}},
            "int-or-string",
        ),
        ({"type": "object", "required": ["b"], "properties": {"a": {"type": "string"}}}, "without a schema"),
    ],
    ids=[
        "untyped property",
        "title",
        "ref",
        "nullable anyOf",
        "nullable",
        "typed int-or-string",
        "dangling required",
    ],
)
def test_structural_checker_catches_non_structural_schemas(node: Schema, problem: str) -> None:
    assert any(problem in p for p in structural_problems(node))


def test_top_level_requires_spec_and_leaves_metadata_to_the_api_server(schema: Schema) -> None:
    assert schema["required"] == ["spec"]
    assert schema["properties"]["metadata"] == {"type": "object"}
    assert set(schema["properties"]) == {"apiVersion", "kind", "metadata", "spec", "status"}
    assert sorted(schema["properties"]["spec"]["required"]) == ["accelerator", "decode", "engine", "model"]


def test_int32_fields_carry_only_user_visible_bounds(schema: Schema) -> None:
    nodes = dict(walk(schema))
    assert nodes["spec.decode.replicas"] == {
        "description": "Number of pods; absent means 1. Not with autoscaling.",
        "format": "int32",
        "minimum": 0,
        "type": "integer",
    }
    assert (nodes["spec.engine.port"]["minimum"], nodes["spec.engine.port"]["maximum"]) == (1, 65535)
    assert "minimum" not in nodes["status.decodeReady"] and "maximum" not in nodes["status.decodeReady"]
    assert nodes["status.observedGeneration"]["format"] == "int64"
    assert nodes["status.conditions[].lastTransitionTime"]["format"] == "date-time"


def test_kubernetes_extensions_come_through(schema: Schema) -> None:
    nodes = dict(walk(schema))
    conditions = nodes["status.conditions"]
    assert (conditions["x-kubernetes-list-type"], conditions["x-kubernetes-list-map-keys"]) == (
        "map",
        ["type"],
    )
    assert nodes["spec.model.imagePullSecrets[]"]["x-kubernetes-map-type"] == "atomic"
    assert nodes["spec.engine.env[].valueFrom.secretKeyRef"]["x-kubernetes-map-type"] == "atomic"
    cpu = nodes["spec.decode.resources.limits{}"]
    assert cpu["x-kubernetes-int-or-string"] is True and cpu["anyOf"] == _INT_OR_STRING


def test_every_field_has_a_description_except_where_kubernetes_owns_it(schema: Schema) -> None:
    undocumented = [
        path
        for path, node in walk(schema)
        if path and "description" not in node and not path.endswith(("[]", "{}")) and path != "metadata"
    ]
    assert undocumented == []


def test_both_roles_declare_pod_annotations(schema: Schema) -> None:
    nodes = dict(walk(schema))
    for role in ("decode", "prefill"):
        assert nodes[f"spec.{role}.annotations"]["additionalProperties"] == {"type": "string"}


# --- defaults ------------------------------------------------------------------------------------

CORE_DEFAULTS = [
    ("spec.model.imagePullSecrets[].name", ""),
    ("spec.engine.env[].valueFrom.configMapKeyRef.name", ""),
    ("spec.engine.env[].valueFrom.secretKeyRef.name", ""),
    ("spec.engine.env[].valueFrom.fileKeyRef.optional", False),
]


def test_schema_defaults_are_exactly_the_documented_defaults(schema: Schema) -> None:
    found = {path: node["default"] for path, node in walk(schema) if "default" in node}
    documented = dict(DEFAULTS + CORE_DEFAULTS)
    # The API description lists decode's defaults; prefill is the same RoleSpec.
    for key in [k for k in documented if k.startswith("spec.decode.")]:
        documented[key.replace("spec.decode.", "spec.prefill.")] = documented[key]
    assert found == documented


def test_schema_defaults_equal_what_the_models_fill_in(schema: Schema) -> None:
    obj = copy.deepcopy(MINIMAL)
    obj["spec"] |= {
        "prefill": {"parallelism": {}, "autoscaling": {"maxReplicas": 2}},
        "routingProxy": {},
        "inferencePool": {"endpointPicker": {}},
        "monitoring": {"podMonitor": {}},
    }
    obj["spec"]["decode"] = {"parallelism": {}, "autoscaling": {"maxReplicas": 2}}
    out = ModelService.from_manifest(obj).to_manifest()
    for path, node in walk(schema):
        if "default" in node and "[]" not in path:
            value: Any = out
            for part in path.split("."):
                value = value[part]
            assert value == node["default"], path


# --- schema and models agree ---------------------------------------------------------------------

AGREEMENT: list[tuple[str, Any]] = [
    ("spec.decode.replicas", 0),
    ("spec.decode.replicas", -1),
    ("spec.decode.replicas", "2"),
    ("spec.decode.replicas", True),
    ("spec.engine.port", 65535),
    ("spec.engine.port", 65536),
    ("spec.engine.port", "8000"),
    ("spec.accelerator.type", "cpu"),
    ("spec.accelerator.type", "tpu"),
    ("spec.model.name", ""),
    ("spec.model.name", "x" * 254),
    ("spec.model.image", ""),
    ("spec.decode.parallelism", {"tensor": 0}),
    ("spec.decode.parallelism", {"tensor": 8, "dataLocal": 2}),
    ("spec.decode.resources", {"limits": {"cpu": 4, "memory": "8Gi"}}),
    ("spec.decode.resources", {"limits": {"cpu": "lots"}}),
    ("spec.decode.resources", {"requests": {"cpu": True}}),
    ("spec.decode.tolerations", [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]),
    ("spec.decode.tolerations", [{"operator": "Sometimes"}]),
    ("spec.decode.nodeSelector", {"gpu": 1}),
    ("spec.engine.env", [{"name": "A", "valueFrom": {"secretKeyRef": {"key": "k"}}}]),
    ("spec.engine.env", [{"value": "no name"}]),
    ("spec.engine.imagePullPolicy", "Sometimes"),
    ("spec.inferencePool", {}),
    ("spec.inferencePool", {"endpointPicker": {"failureMode": "FailClose", "replicas": 2}}),
    ("spec.inferencePool", {"endpointPicker": {"failureMode": "Maybe"}}),
    ("spec.httpRoute", {"gatewayRef": {"name": "gw"}, "hostnames": ["a.example"]}),
    ("spec.httpRoute", {"gatewayRef": {"name": ""}}),
    ("spec.routingProxy", {"prefillerUseTLS": "yes"}),
    ("spec.monitoring", {"podMonitor": {"enabled": "true"}}),
    ("spec.engine.futureField", 1),
    ("status.conditions", [{"type": "Ready", "status": "Maybe"}]),
]


def _model_accepts(obj: dict[str, Any]) -> bool:
    try:
        ModelService.from_manifest(obj)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize(("path", "value"), AGREEMENT, ids=[f"{p}={v!r}"[:60] for p, v in AGREEMENT])
def test_schema_and_models_give_the_same_verdict(schema: Schema, path: str, value: Any) -> None:
    obj = with_value(path, value)
    schema_accepts = jsonschema.Draft4Validator(schema).is_valid(obj)
    assert schema_accepts == _model_accepts(obj)


def test_agreement_table_has_both_verdicts() -> None:
    verdicts = {_model_accepts(with_value(p, v)) for p, v in AGREEMENT}
    assert verdicts == {True, False}


def test_yaml_float_quantities_are_the_known_disagreement(schema: Schema) -> None:
    # The models read `cpu: 1.5` as "1.5" like a Pod would; an int-or-string CRD field cannot
    # admit floats. The mutating webhook, which runs before the schema check, rewrites them as
    # strings (shared.defaulting.quantity_ops; test_defaulting checks the result passes this schema).
    obj = with_value("spec.decode.resources", {"limits": {"cpu": 1.5}})
    assert _model_accepts(obj)
    assert not jsonschema.Draft4Validator(schema).is_valid(obj)


def test_resource_identity_comes_from_the_api_constants(generated: dict[str, Any]) -> None:
    assert generated["spec"]["names"]["shortNames"] == list(api.SHORT_NAMES)
    assert generated["spec"]["versions"][0]["name"] == api.VERSION
