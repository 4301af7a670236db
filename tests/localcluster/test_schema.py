"""Structural schemas of CRDs: defaulting, pruning, field validation modes and 422 causes."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from kubernetes.aio.client.exceptions import ApiException

from localcluster import LocalCluster
from tests.localcluster.conftest import status_of, widget, widget_crd

Manifest = dict[str, Any]

SCHEMA: Manifest = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["model"],
            "properties": {
                "model": {"type": "string", "minLength": 2, "maxLength": 8, "pattern": "^[a-z]+$"},
                "mode": {"type": "string", "enum": ["fast", "slow"], "default": "fast"},
                "decode": {
                    "type": "object",
                    "default": {},
                    "properties": {
                        "replicas": {"type": "integer", "minimum": 0, "maximum": 10, "default": 1},
                        "port": {
                            "x-kubernetes-int-or-string": True,
                            "anyOf": [{"type": "integer"}, {"type": "string"}],
                        },
                    },
                },
                "args": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 2},
                "env": {"type": "object", "additionalProperties": {"type": "string", "maxLength": 3}},
                "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "optional": {"type": "string", "nullable": True},
                "ports": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"],
                    "items": {"type": "object", "properties": {"name": {"type": "string"}}},
                },
            },
        },
        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
    },
}


@pytest.fixture
async def models(local_cluster: LocalCluster) -> LocalCluster:
    await local_cluster.install_crd(widget_crd(schema=SCHEMA))
    return local_cluster


async def create(custom: Any, spec: Manifest, **kwargs: Any) -> Manifest:
    body = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": spec}
    obj: Manifest = await custom.create_namespaced_custom_object(
        "example.com", "v1", "default", "widgets", body, **kwargs
    )
    return obj


async def test_defaults_are_applied_recursively(models: LocalCluster, custom: Any) -> None:
    created = await create(custom, {"model": "llama"})
    assert created["spec"] == {"model": "llama", "mode": "fast", "decode": {"replicas": 1}}


async def test_unknown_fields_are_pruned_except_under_preserve_unknown_fields(
    models: LocalCluster, custom: Any
) -> None:
    created = await create(
        custom, {"model": "llama", "bogus": 1, "decode": {"typo": 2}, "extra": {"anything": {"goes": True}}}
    )
    assert "bogus" not in created["spec"] and created["spec"]["decode"] == {"replicas": 1}
    assert created["spec"]["extra"] == {"anything": {"goes": True}}


async def test_unknown_fields_produce_warning_headers(models: LocalCluster) -> None:
    body = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": {"model": "llama", "bogus": 1},
    }
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{models.url}/apis/example.com/v1/namespaces/default/widgets", json=body) as resp,
    ):
        warnings = resp.headers.getall("Warning")
    assert resp.status == 201
    assert warnings == ['299 - "unknown field \\"spec.bogus\\""']


async def test_strict_field_validation_rejects_unknown_fields(models: LocalCluster, custom: Any) -> None:
    with pytest.raises(ApiException) as info:
        await create(custom, {"model": "llama", "bogus": 1}, field_validation="Strict")
    assert info.value.status == 400
    assert status_of(info.value)["message"] == (
        'Widget in version "v1" cannot be handled as a Widget: strict decoding error: '
        'unknown field "spec.bogus"'
    )


@pytest.mark.parametrize("port", [8080, "http"], ids=["integer", "string"])
async def test_int_or_string_accepts_both(models: LocalCluster, custom: Any, port: Any) -> None:
    created = await create(custom, {"model": "llama", "decode": {"port": port}})
    assert created["spec"]["decode"]["port"] == port


async def test_nullable_null_is_kept_and_non_nullable_null_is_defaulted(
    models: LocalCluster, custom: Any
) -> None:
    created = await create(custom, {"model": "llama", "optional": None, "mode": None})
    assert created["spec"]["optional"] is None
    assert created["spec"]["mode"] == "fast"


VIOLATIONS = [
    (
        {"decode": {"replicas": -1}},
        "spec.decode.replicas",
        "FieldValueInvalid",
        "Invalid value: -1: spec.decode.replicas in body should be greater than or equal to 0",
    ),
    (
        {"decode": {"replicas": 11}},
        "spec.decode.replicas",
        "FieldValueInvalid",
        "Invalid value: 11: spec.decode.replicas in body should be less than or equal to 10",
    ),
    (
        {"decode": {"replicas": "two"}},
        "spec.decode.replicas",
        "FieldValueTypeInvalid",
        'Invalid value: "string": spec.decode.replicas in body must be of type integer: "string"',
    ),
    (
        {"decode": {"port": True}},
        "spec.decode.port",
        "FieldValueTypeInvalid",
        'Invalid value: "boolean": spec.decode.port in body must be of type integer,string: "boolean"',
    ),
    (
        {"mode": "warp"},
        "spec.mode",
        "FieldValueNotSupported",
        'Unsupported value: "warp": supported values: "fast", "slow"',
    ),
    (
        {"model": "a"},
        "spec.model",
        "FieldValueInvalid",
        'Invalid value: "a": spec.model in body should be at least 2 chars long',
    ),
    ({"model": "abcdefghij"}, "spec.model", "FieldValueTooLong", "Too long: may not be longer than 8"),
    (
        {"model": "ABC"},
        "spec.model",
        "FieldValueInvalid",
        "Invalid value: \"ABC\": spec.model in body should match '^[a-z]+$'",
    ),
    (
        {"args": []},
        "spec.args",
        "FieldValueInvalid",
        "Invalid value: []: spec.args in body should have at least 1 items",
    ),
    ({"args": ["a", "b", "c"]}, "spec.args", "FieldValueTooMany", "Too many: 3: must have at most 2 items"),
    ({"env": {"K": "long"}}, "spec.env.K", "FieldValueTooLong", "Too long: may not be longer than 3"),
    (
        {"ports": [{"name": "a"}, {"name": "a"}]},
        "spec.ports[1]",
        "FieldValueDuplicate",
        'Duplicate value: {"name":"a"}',
    ),
]


@pytest.mark.parametrize(
    ("spec", "field", "reason", "message"),
    VIOLATIONS,
    ids=[
        "minimum",
        "maximum",
        "type",
        "int-or-string-type",
        "enum",
        "min-length",
        "max-length",
        "pattern",
        "min-items",
        "max-items",
        "additional-properties",
        "list-map-keys",
    ],
)
async def test_schema_violations_are_422_with_one_cause(
    models: LocalCluster, custom: Any, spec: Manifest, field: str, reason: str, message: str
) -> None:
    with pytest.raises(ApiException) as info:
        await create(custom, {"model": "llama", **spec})
    status = status_of(info.value)
    assert info.value.status == 422
    assert status["details"]["causes"] == [{"reason": reason, "message": message, "field": field}]
    assert status["message"] == f'Widget.example.com "w" is invalid: {field}: {message}'


async def test_missing_required_field_is_reported(models: LocalCluster, custom: Any) -> None:
    with pytest.raises(ApiException) as info:
        await create(custom, {})
    assert status_of(info.value)["details"]["causes"] == [
        {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.model"}
    ]


async def test_every_violation_gets_its_own_cause(models: LocalCluster, custom: Any) -> None:
    with pytest.raises(ApiException) as info:
        await create(custom, {"model": "A", "mode": "warp"})
    status = status_of(info.value)
    assert [c["field"] for c in status["details"]["causes"]] == ["spec.model", "spec.model", "spec.mode"]
    assert status["message"].startswith('Widget.example.com "w" is invalid: [spec.model: ')


async def test_updates_are_validated_and_defaulted_too(models: LocalCluster, custom: Any) -> None:
    created = await create(custom, {"model": "llama"})
    created["spec"].pop("mode")
    updated = await custom.replace_namespaced_custom_object(
        "example.com", "v1", "default", "widgets", "w", created
    )
    assert updated["spec"]["mode"] == "fast"
    with pytest.raises(ApiException) as info:
        await custom.patch_namespaced_custom_object(
            "example.com", "v1", "default", "widgets", "w", {"spec": {"decode": {"replicas": -5}}}
        )
    assert info.value.status == 422


async def test_invalid_custom_resource_name_is_422(local_cluster: LocalCluster, custom: Any) -> None:
    await local_cluster.install_crd(widget_crd())
    with pytest.raises(ApiException) as info:
        await custom.create_namespaced_custom_object(
            "example.com", "v1", "default", "widgets", widget("Not_Valid")
        )
    assert status_of(info.value)["details"]["causes"][0]["field"] == "metadata.name"


# ----- the real upstream CRDs (team data) ----------------------------------------------------


@functools.cache
def _parsed_crds(folder: Path) -> tuple[str, ...]:
    # Parse the large upstream files once per session; hand out fresh copies (as JSON text).
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    docs = []
    for path in sorted(folder.glob("*.yaml")):
        docs += [json.dumps(doc) for doc in yaml.load_all(path.read_text(), Loader=loader) if doc]
    return tuple(docs)


def upstream_crds(team_data_dir: Path) -> list[Manifest]:
    return [json.loads(doc) for doc in _parsed_crds(team_data_dir / "schemas" / "crds")]


async def test_upstream_crds_install_and_default_nested_fields(
    team_data_dir: Path, local_cluster: LocalCluster, custom: Any
) -> None:
    for crd in upstream_crds(team_data_dir):
        await local_cluster.create(crd)
    route = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "r"},
        "spec": {"parentRefs": [{"name": "gw"}], "rules": [{"backendRefs": [{"name": "svc", "port": 80}]}]},
    }
    created = await custom.create_namespaced_custom_object(
        "gateway.networking.k8s.io", "v1", "default", "httproutes", route
    )
    assert created["spec"]["parentRefs"] == [
        {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "gw"}
    ]
    assert created["spec"]["rules"][0]["matches"] == [{"path": {"type": "PathPrefix", "value": "/"}}]


async def test_upstream_inference_pool_schema_rejects_bad_ports(
    team_data_dir: Path, local_cluster: LocalCluster, custom: Any
) -> None:
    for crd in upstream_crds(team_data_dir):
        await local_cluster.create(crd)
    pool: Manifest = {
        "apiVersion": "inference.networking.k8s.io/v1",
        "kind": "InferencePool",
        "metadata": {"name": "p"},
        "spec": {
            "selector": {"matchLabels": {"app": "x"}},
            "targetPorts": [{"number": 0}],
            "endpointPickerRef": {"name": "epp", "port": {"number": 9002}},
        },
    }
    with pytest.raises(ApiException) as info:
        await custom.create_namespaced_custom_object(
            "inference.networking.k8s.io", "v1", "default", "inferencepools", pool
        )
    assert status_of(info.value)["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "field": "spec.targetPorts[0].number",
            "message": "Invalid value: 0: spec.targetPorts[0].number in body should be greater than or equal"
            " to 1",
        }
    ]
    pool["spec"]["targetPorts"] = [{"number": 8000}]
    created = await custom.create_namespaced_custom_object(
        "inference.networking.k8s.io", "v1", "default", "inferencepools", pool
    )
    assert created["spec"]["endpointPickerRef"]["kind"] == "Service"
    assert created["spec"]["endpointPickerRef"]["failureMode"] == "FailClose"
