"""The embedded Kubernetes core types: quantities, resources, env vars, tolerations, references."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from shared.kube_types import (
    EnvVar,
    Int32,
    Int64,
    LocalObjectReference,
    Port,
    ResourceRequirements,
    Toleration,
    WireModel,
    parse_quantity,
)

# --- quantities ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", Decimal("0.5")),
        ("8Gi", Decimal(8 * 2**30)),
        ("1e3", Decimal(1000)),
        ("1.5", Decimal("1.5")),
        (".5", Decimal("0.5")),
        ("+1", Decimal(1)),
        ("4", Decimal(4)),
        ("1E-3", Decimal("0.001")),
        ("100Mi", Decimal(100 * 2**20)),
        ("2k", Decimal(2000)),
        ("3M", Decimal(3_000_000)),
        ("250n", Decimal("0.00000025")),
        ("1.", Decimal(1)),
        ("-2", Decimal(-2)),
        ("0", Decimal(0)),
        ("1Ei", Decimal(2**60)),
    ],
    ids=[
        "milli",
        "binary gibi",
        "decimal exponent",
        "fraction",
        "leading dot",
        "explicit plus",
        "plain integer",
        "upper case negative exponent",
        "mebi",
        "kilo",
        "mega",
        "nano",
        "trailing dot",
        "negative",
        "zero",
        "exbi",
    ],
)
def test_parse_quantity_reads_the_exact_decimal_value(text: str, value: Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize(
    "text",
    ["1.2.3", "lots", "8gb", "", "1Ki1", "Gi", "1 Gi", "1e", "1KI", "0x10", "1.5.Mi", " 1"],
    ids=[
        "two dots",
        "a word",
        "lower case unit",
        "empty",
        "digits after the suffix",
        "suffix without number",
        "space before suffix",
        "exponent without digits",
        "wrong case binary suffix",
        "hex",
        "dotted suffix",
        "leading space",
    ],
)
def test_parse_quantity_rejects_what_the_api_server_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="quantities must match"):
        parse_quantity(text)


@pytest.mark.parametrize(
    ("value", "stored"),
    [("8Gi", "8Gi"), (4, "4"), (1.5, "1.5"), ("500m", "500m"), (0, "0")],
    ids=["string kept as written", "yaml int", "yaml float", "milli string", "zero int"],
)
def test_resource_quantities_accept_strings_and_yaml_numbers(value: Any, stored: str) -> None:
    resources = ResourceRequirements.model_validate({"limits": {"cpu": value}, "requests": {"cpu": value}})
    assert resources.limits == {"cpu": stored}
    assert resources.requests == {"cpu": stored}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, "not a boolean"),
        ("lots", "quantities must match"),
        ("8gb", "quantities must match"),
        (None, "valid string"),
        ([1], "valid string"),
    ],
    ids=["boolean", "word", "lower case unit", "null", "list"],
)
def test_resource_quantities_reject_non_quantities(value: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as exc:
        ResourceRequirements.model_validate({"limits": {"memory": value}})
    assert exc.value.errors()[0]["loc"][:2] == ("limits", "memory")


def test_resource_claims_require_a_name_and_keep_the_request() -> None:
    resources = ResourceRequirements.model_validate({"claims": [{"name": "gpu", "request": "a"}]})
    assert resources.model_dump(mode="json", exclude_none=True) == {
        "claims": [{"name": "gpu", "request": "a"}]
    }
    with pytest.raises(ValidationError) as exc:
        ResourceRequirements.model_validate({"claims": [{"request": "a"}]})
    assert exc.value.errors()[0]["loc"] == ("claims", 0, "name")


# --- scalar types --------------------------------------------------------------------------------


class _Scalars(BaseModel):
    int32: Int32 = 0
    int64: Int64 = 0
    port: Port = 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("int32", 2**31),
        ("int32", -(2**31) - 1),
        ("int32", "7"),
        ("int32", True),
        ("int32", 1.0),
        ("int64", "7"),
        ("int64", False),
        ("port", 0),
        ("port", 65536),
        ("port", "8000"),
        ("port", True),
    ],
    ids=[
        "int32 overflow",
        "int32 underflow",
        "int32 as string",
        "int32 as bool",
        "int32 as float",
        "int64 as string",
        "int64 as bool",
        "port zero",
        "port above 65535",
        "port as string",
        "port as bool",
    ],
)
def test_integer_types_are_strict_and_bounded(field: str, value: Any) -> None:
    with pytest.raises(ValidationError) as exc:
        _Scalars.model_validate({field: value})
    assert exc.value.errors()[0]["loc"] == (field,)


@pytest.mark.parametrize(
    ("field", "value"),
    [("int32", 2**31 - 1), ("int32", -(2**31)), ("int64", 2**40), ("port", 1), ("port", 65535)],
    ids=["int32 max", "int32 min", "int64 beyond int32", "port one", "port 65535"],
)
def test_integer_types_accept_their_whole_range(field: str, value: int) -> None:
    assert getattr(_Scalars.model_validate({field: value}), field) == value


# --- env vars ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wire", "read_back"),
    [
        ({"name": "A", "value": "1"}, {"name": "A", "value": "1"}),
        (
            {"name": "A", "valueFrom": {"configMapKeyRef": {"key": "k"}}},
            {"name": "A", "valueFrom": {"configMapKeyRef": {"key": "k", "name": ""}}},
        ),
        (
            {"name": "A", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k", "optional": True}}},
            {"name": "A", "valueFrom": {"secretKeyRef": {"key": "k", "name": "s", "optional": True}}},
        ),
        (
            {"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        ),
        (
            {"name": "A", "valueFrom": {"fileKeyRef": {"key": "k", "path": "p.env", "volumeName": "v"}}},
            {
                "name": "A",
                "valueFrom": {
                    "fileKeyRef": {"key": "k", "optional": False, "path": "p.env", "volumeName": "v"}
                },
            },
        ),
        (
            {"name": "A", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": 1}}},
            {"name": "A", "valueFrom": {"resourceFieldRef": {"divisor": "1", "resource": "limits.cpu"}}},
        ),
    ],
    ids=[
        "plain value",
        "config map key with default name",
        "secret key",
        "pod field",
        "env file key with default optional",
        "resource field with numeric divisor",
    ],
)
def test_env_vars_read_every_value_source_and_fill_core_defaults(
    wire: dict[str, Any], read_back: dict[str, Any]
) -> None:
    assert EnvVar.model_validate(wire).model_dump(mode="json", exclude_none=True) == read_back


@pytest.mark.parametrize(
    ("wire", "loc"),
    [
        ({"value": "x"}, ("name",)),
        (
            {"name": "A", "valueFrom": {"configMapKeyRef": {"name": "c"}}},
            ("valueFrom", "configMapKeyRef", "key"),
        ),
        ({"name": "A", "valueFrom": {"fieldRef": {}}}, ("valueFrom", "fieldRef", "fieldPath")),
        (
            {"name": "A", "valueFrom": {"fileKeyRef": {"key": "k", "path": "p"}}},
            ("valueFrom", "fileKeyRef", "volumeName"),
        ),
        (
            {"name": "A", "valueFrom": {"resourceFieldRef": {"divisor": "1"}}},
            ("valueFrom", "resourceFieldRef", "resource"),
        ),
        (
            {"name": "A", "valueFrom": {"secretKeyRef": {"key": "k", "optional": "yes"}}},
            ("valueFrom", "secretKeyRef", "optional"),
        ),
        ({"name": 5}, ("name",)),
    ],
    ids=[
        "missing name",
        "config map key without key",
        "field ref without path",
        "file key without volume",
        "resource field without resource",
        "optional as string",
        "numeric name",
    ],
)
def test_env_vars_report_missing_or_mistyped_fields_by_wire_path(
    wire: dict[str, Any], loc: tuple[Any, ...]
) -> None:
    with pytest.raises(ValidationError) as exc:
        EnvVar.model_validate(wire)
    assert exc.value.errors()[0]["loc"] == loc


# --- tolerations and references ------------------------------------------------------------------


def test_toleration_reads_every_field_by_wire_name() -> None:
    wire = {
        "key": "nvidia.com/gpu",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 300,
    }
    toleration = Toleration.model_validate(wire)
    assert toleration.toleration_seconds == 300
    assert toleration.model_dump(mode="json", exclude_none=True) == wire


@pytest.mark.parametrize(
    ("wire", "loc"),
    [
        ({"operator": "Matches"}, ("operator",)),
        ({"effect": "NoRun"}, ("effect",)),
        ({"tolerationSeconds": "300"}, ("tolerationSeconds",)),
        ({"key": 1}, ("key",)),
    ],
    ids=["unknown operator", "unknown effect", "seconds as string", "numeric key"],
)
def test_toleration_rejects_unknown_enums_and_wrong_types(wire: dict[str, Any], loc: tuple[str, ...]) -> None:
    with pytest.raises(ValidationError) as exc:
        Toleration.model_validate(wire)
    assert exc.value.errors()[0]["loc"] == loc


def test_local_object_reference_name_defaults_to_empty() -> None:
    assert LocalObjectReference.model_validate({}).name == ""
    assert LocalObjectReference.model_validate({"name": "pull"}).model_dump() == {"name": "pull"}


# --- the wire model base -------------------------------------------------------------------------


def test_wire_models_are_frozen_ignore_unknown_fields_and_speak_camel_case() -> None:
    ref = EnvVar.model_validate({"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "x"}}, "bogus": 1})
    assert issubclass(EnvVar, WireModel)
    assert "bogus" not in ref.model_dump(by_alias=True)
    assert ref.value_from is not None and ref.value_from.field_ref is not None
    assert set(ref.model_dump(exclude_none=True)) == {"name", "valueFrom"}
    assert EnvVar.model_validate({"name": "A", "value_from": {"field_ref": {"field_path": "x"}}}) == ref
    with pytest.raises(ValidationError, match="frozen"):
        ref.name = "B"  # type: ignore[misc]
