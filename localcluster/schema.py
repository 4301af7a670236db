"""Structural-schema handling for custom resources: pruning, defaulting and validation.

The order follows the real apiextensions server: unknown fields are pruned, non-nullable nulls
without a default are dropped, `default`s are filled in, then the object is validated against the
OpenAPI v3 schema with one cause per violation (messages worded like kube-openapi's). Supported:
type, nullable, enum, minimum/maximum (+exclusive), multipleOf, minLength/maxLength, pattern,
required, minItems/maxItems, uniqueItems, min/maxProperties, allOf/anyOf/oneOf/not, list-type
set/map uniqueness, `x-kubernetes-preserve-unknown-fields`, `x-kubernetes-int-or-string` and
`x-kubernetes-embedded-resource`. CEL rules (`x-kubernetes-validations`) and `format` are not
evaluated.
"""

from __future__ import annotations

import copy
import json
import re
from functools import lru_cache
from typing import Any

from localcluster import errors
from localcluster.errors import FieldError

Manifest = dict[str, Any]
Schema = dict[str, Any]

OBJECT_META_FIELDS = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    }
)
_ROOT_FIELDS = ("apiVersion", "kind", "metadata")


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _preserves(schema: Schema) -> bool:
    return bool(schema.get("x-kubernetes-preserve-unknown-fields"))


# ----- pruning and defaulting ----------------------------------------------------------------


def prune(value: Any, schema: Schema, path: str, unknown: list[str], root: bool = False) -> None:
    """Drop fields the schema does not declare (in place), recording their paths."""
    if isinstance(value, dict):
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        embedded = root or schema.get("x-kubernetes-embedded-resource")
        for key in list(value):
            if embedded and key in _ROOT_FIELDS:
                if key == "metadata" and isinstance(value[key], dict):
                    for meta_key in [k for k in value[key] if k not in OBJECT_META_FIELDS]:
                        unknown.append(_child(_child(path, key), meta_key))
                        del value[key][meta_key]
                continue
            if props is not None and key in props:
                prune(value[key], props[key], _child(path, key), unknown)
            elif isinstance(extra, dict):
                prune(value[key], extra, _child(path, key), unknown)
            elif not (_preserves(schema) or extra is True):
                unknown.append(_child(path, key))
                del value[key]
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            prune(item, schema["items"], f"{path}[{i}]", unknown)


def default(value: Any, schema: Schema) -> None:
    """Fill in missing properties from `default`s, recursively, and drop non-nullable nulls."""
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        for key, prop in props.items():
            current = value.get(key, _MISSING)
            if current is None and not prop.get("nullable"):
                del value[key]
                current = _MISSING
            if current is _MISSING and "default" in prop:
                value[key] = copy.deepcopy(prop["default"])
        for key, item in value.items():
            sub = props.get(key)
            if sub is None and isinstance(schema.get("additionalProperties"), dict):
                sub = schema["additionalProperties"]
            if sub is not None:
                default(item, sub)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            default(item, schema["items"])


_MISSING: Any = object()


def normalize(obj: Manifest, schema: Schema | None) -> list[str]:
    """Prune then default a whole custom resource in place; returns the pruned field paths."""
    unknown: list[str] = []
    if schema is None:
        return unknown
    prune(obj, schema, "", unknown, root=True)
    default(obj, schema)
    return unknown


# ----- validation ----------------------------------------------------------------------------


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _type_ok(value: Any, schema: Schema) -> bool:
    if schema.get("x-kubernetes-int-or-string"):
        return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))
    expected = schema.get("type")
    actual = _type_name(value)
    if not expected or expected == actual:
        return True
    return expected == "number" and actual == "integer"


def _type_error(value: Any, schema: Schema, path: str) -> FieldError:
    expected = "integer,string" if schema.get("x-kubernetes-int-or-string") else schema.get("type", "")
    actual = _type_name(value)
    return FieldError(
        errors.TYPE_INVALID, path, actual, f'{path} in body must be of type {expected}: "{actual}"'
    )


@lru_cache(maxsize=512)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def validate(value: Any, schema: Schema, path: str = "") -> list[FieldError]:
    """Every violation of `schema` by `value`, with field paths like `spec.decode.replicas`."""
    if value is None and (schema.get("nullable") or not (schema.get("type") or _int_or_string(schema))):
        return _combinators(value, schema, path)
    if not _type_ok(value, schema):
        return [_type_error(value, schema, path)]
    errs: list[FieldError] = []
    if "enum" in schema and value not in schema["enum"]:
        allowed = [v if isinstance(v, str) else json.dumps(v) for v in schema["enum"]]
        errs.append(errors.not_supported(path, value, allowed))
    if isinstance(value, int | float) and not isinstance(value, bool):
        errs.extend(_validate_number(value, schema, path))
    elif isinstance(value, str):
        errs.extend(_validate_string(value, schema, path))
    elif isinstance(value, list):
        errs.extend(_validate_array(value, schema, path))
    elif isinstance(value, dict):
        errs.extend(_validate_object(value, schema, path))
    errs.extend(_combinators(value, schema, path))
    return errs


def _int_or_string(schema: Schema) -> bool:
    return bool(schema.get("x-kubernetes-int-or-string"))


def _validate_number(value: float, schema: Schema, path: str) -> list[FieldError]:
    errs = []
    if "minimum" in schema:
        low, exclusive = schema["minimum"], bool(schema.get("exclusiveMinimum"))
        if value < low or (exclusive and value == low):
            word = "greater than" if exclusive else "greater than or equal to"
            errs.append(errors.invalid(path, value, f"{path} in body should be {word} {_num(low)}"))
    if "maximum" in schema:
        high, exclusive = schema["maximum"], bool(schema.get("exclusiveMaximum"))
        if value > high or (exclusive and value == high):
            word = "less than" if exclusive else "less than or equal to"
            errs.append(errors.invalid(path, value, f"{path} in body should be {word} {_num(high)}"))
    factor = schema.get("multipleOf")
    if factor and (value / factor) != int(value / factor):
        errs.append(errors.invalid(path, value, f"{path} in body should be a multiple of {_num(factor)}"))
    return errs


def _validate_string(value: str, schema: Schema, path: str) -> list[FieldError]:
    errs = []
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        errs.append(FieldError(errors.TOO_LONG, path, value, f"may not be longer than {schema['maxLength']}"))
    if "minLength" in schema and len(value) < schema["minLength"]:
        msg = f"{path} in body should be at least {schema['minLength']} chars long"
        errs.append(errors.invalid(path, value, msg))
    if "pattern" in schema and not _regex(schema["pattern"]).search(value):
        errs.append(errors.invalid(path, value, f"{path} in body should match '{schema['pattern']}'"))
    return errs


def _validate_array(value: list[Any], schema: Schema, path: str) -> list[FieldError]:
    errs = []
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        errs.append(
            FieldError(errors.TOO_MANY, path, len(value), f"must have at most {schema['maxItems']} items")
        )
    if "minItems" in schema and len(value) < schema["minItems"]:
        msg = f"{path} in body should have at least {schema['minItems']} items"
        errs.append(errors.invalid(path, value, msg))
    list_type = schema.get("x-kubernetes-list-type")
    if schema.get("uniqueItems") or list_type == "set":
        errs.extend(_duplicates(value, path, lambda item: item))
    if list_type == "map":
        keys = schema.get("x-kubernetes-list-map-keys") or []
        errs.extend(
            _duplicates(
                value, path, lambda item: {k: item.get(k) for k in keys} if isinstance(item, dict) else item
            )
        )
    items = schema.get("items")
    if isinstance(items, dict):
        for i, item in enumerate(value):
            errs.extend(validate(item, items, f"{path}[{i}]"))
    return errs


def _duplicates(value: list[Any], path: str, key: Any) -> list[FieldError]:
    seen: set[str] = set()
    errs = []
    for i, item in enumerate(value):
        marker = json.dumps(key(item), sort_keys=True)
        if marker in seen:
            errs.append(FieldError(errors.DUPLICATE, f"{path}[{i}]", key(item)))
        seen.add(marker)
    return errs


def _validate_object(value: Manifest, schema: Schema, path: str) -> list[FieldError]:
    errs = [errors.required(_child(path, key)) for key in schema.get("required") or () if key not in value]
    if "maxProperties" in schema and len(value) > schema["maxProperties"]:
        errs.append(
            FieldError(
                errors.TOO_MANY, path, len(value), f"must have at most {schema['maxProperties']} items"
            )
        )
    if "minProperties" in schema and len(value) < schema["minProperties"]:
        msg = f"{path} in body should have at least {schema['minProperties']} properties"
        errs.append(errors.invalid(path, len(value), msg))
    props = schema.get("properties") or {}
    extra = schema.get("additionalProperties")
    for key, item in value.items():
        if not path and key in _ROOT_FIELDS:
            continue  # apiVersion/kind/metadata are the server's business, not the schema's
        if key in props:
            errs.extend(validate(item, props[key], _child(path, key)))
        elif isinstance(extra, dict):
            errs.extend(validate(item, extra, _child(path, key)))
    return errs


def _combinators(value: Any, schema: Schema, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for sub in schema.get("allOf") or ():
        errs.extend(validate(value, sub, path))
    label = path or "body"
    if "anyOf" in schema and not any(not validate(value, sub, path) for sub in schema["anyOf"]):
        errs.append(errors.invalid(path, value, f"{label} in body must validate at least one schema (anyOf)"))
    if "oneOf" in schema:
        passing = sum(1 for sub in schema["oneOf"] if not validate(value, sub, path))
        if passing != 1:
            errs.append(
                errors.invalid(path, value, f"{label} in body must validate one and only one schema (oneOf)")
            )
    if "not" in schema and not validate(value, schema["not"], path):
        errs.append(errors.invalid(path, value, f"{label} in body must not validate the schema (not)"))
    return errs


def unknown_fields_error(kind: str, version: str, unknown: list[str]) -> errors.StatusError:
    """400 for `fieldValidation=Strict`, worded like the real server's strict decoding error."""
    fields = ", ".join(f'unknown field "{p}"' for p in unknown)
    return errors.bad_request(
        f'{kind} in version "{version}" cannot be handled as a {kind}: strict decoding error: {fields}'
    )
