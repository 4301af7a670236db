"""Validate custom resources against their upstream CRD schema the way the API server would.

Plain jsonschema misses most of what the API server enforces for custom resources, so each object
goes through the four preparations described in team data (`../shared/schemas/README.md`):

1. the schema is made closed-world (unknown fields are bugs in generated output), keeping
   ``apiVersion``, ``kind`` and ``metadata`` allowed at the root;
2. ``None`` values are dropped (the API server prunes them);
3. schema defaults are applied (several CEL rules read defaulted fields);
4. every ``x-kubernetes-validations`` CEL rule is evaluated with ``self`` bound to the value at its
   schema node; an evaluation error is a failure, as in the API server.

On top, the walk checks what the schema declares but jsonschema ignores: int32/int64 ranges and
list-type ``set``/``map`` uniqueness. Each CRD file is loaded and prepared once per process.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cel
import jsonschema
import yaml

Schema = dict[str, Any]
Visitor = Callable[[Any, Schema, str], Iterator[str]]

_ROOT_FIELDS: Schema = {
    "apiVersion": {"type": "string"},
    "kind": {"type": "string"},
    "metadata": {"type": "object"},
}
_CEL_KEYWORDS = frozenset(
    {
        *("true", "false", "null", "in", "as", "break", "const", "continue", "else", "for", "function"),
        *("if", "import", "let", "loop", "package", "namespace", "return", "var", "void", "while"),
    }
)
_INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}


@functools.cache
def crd_index(crd_dir: Path) -> dict[tuple[str, str], Path]:
    """(group, kind) -> CRD file, for every CRD in ``crd_dir``."""
    index: dict[tuple[str, str], Path] = {}
    for path in sorted(crd_dir.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                index[(doc["spec"]["group"], doc["spec"]["names"]["kind"])] = path
    return index


@functools.cache
def prepared_schema(crd_path: Path, kind: str, version: str) -> Schema | None:
    """The closed-world openAPIV3Schema of one served version, or None if it is not served."""
    for doc in yaml.safe_load_all(crd_path.read_text()):
        if not doc or doc["spec"]["names"]["kind"] != kind:
            continue
        for entry in doc["spec"]["versions"]:
            if entry["name"] == version and entry.get("served", True):
                schema: Schema = copy.deepcopy(entry["schema"]["openAPIV3Schema"])
                _close(schema)
                schema.setdefault("properties", {})
                for field, field_schema in _ROOT_FIELDS.items():
                    schema["properties"].setdefault(field, field_schema)
                return schema
    return None


def _close(schema: Schema) -> None:
    """additionalProperties: false wherever properties are listed and unknown fields are not kept.

    Only properties/items/additionalProperties are followed: the anyOf/oneOf/allOf/not branches of
    these CRDs restate required fields and must stay open, or every object would fail them.
    """
    keeps_unknown = schema.get("x-kubernetes-preserve-unknown-fields", False)
    if "properties" in schema and "additionalProperties" not in schema and not keeps_unknown:
        schema["additionalProperties"] = False
    for child in _children(schema):
        _close(child)


def _children(schema: Schema) -> Iterator[Schema]:
    yield from schema.get("properties", {}).values()
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            yield schema[key]


def drop_none(value: Any) -> Any:
    """A copy without None values (the API server prunes nulls from non-nullable fields)."""
    if isinstance(value, dict):
        return {k: drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_none(v) for v in value if v is not None]
    return value


def apply_defaults(value: Any, schema: Schema) -> None:
    """Fill missing properties from schema defaults, recursively (also inside defaulted values)."""
    if isinstance(value, dict):
        for name, prop in schema.get("properties", {}).items():
            if name not in value and "default" in prop:
                value[name] = copy.deepcopy(prop["default"])
            if name in value:
                apply_defaults(value[name], prop)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for key, item in value.items():
                if key not in schema.get("properties", {}):
                    apply_defaults(item, extra)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            apply_defaults(item, schema["items"])


def walk(value: Any, schema: Schema, path: str, visit: Visitor) -> Iterator[str]:
    """Run ``visit`` on every value with its schema node, through properties/items/additionalProperties."""
    yield from visit(value, schema, path)
    if isinstance(value, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if key in props:
                yield from walk(item, props[key], f"{path}.{key}", visit)
            elif isinstance(extra, dict):
                yield from walk(item, extra, f"{path}[{key}]", visit)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            yield from walk(item, schema["items"], f"{path}[{i}]", visit)


def escape_property(name: str) -> str:
    """Kubernetes' CEL property-name escaping (keywords, then ``__ . - /`` inside names)."""
    if name in _CEL_KEYWORDS:
        return f"__{name}__"
    return (
        name.replace("__", "__underscores__")
        .replace(".", "__dot__")
        .replace("-", "__dash__")
        .replace("/", "__slash__")
    )


def cel_value(value: Any, schema: Schema) -> Any:
    """``value`` as CEL sees it: object property names escaped, map keys left alone."""
    if isinstance(value, dict):
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        if props is not None:
            return {escape_property(k): cel_value(v, props.get(k, {})) for k, v in value.items()}
        return {k: cel_value(v, extra if isinstance(extra, dict) else {}) for k, v in value.items()}
    if isinstance(value, list):
        items = schema.get("items")
        return [cel_value(v, items if isinstance(items, dict) else {}) for v in value]
    return value


def _cel_rules(value: Any, schema: Schema, path: str) -> Iterator[str]:
    rules = schema.get("x-kubernetes-validations") or ()
    if not rules:
        return
    bound = cel_value(value, schema)
    for rule in rules:
        try:
            result = cel.evaluate(rule["rule"], {"self": bound})
        except Exception as e:  # any evaluation error is a rejection, as in the API server
            yield f"{path}: CEL rule {rule['rule']!r} failed to evaluate: {type(e).__name__}: {e}"
            continue
        if result is not True:
            yield f"{path}: CEL rule {rule['rule']!r} rejected the value: {rule.get('message', '')}"


def _formats_and_lists(value: Any, schema: Schema, path: str) -> Iterator[str]:
    bounds = _INT_RANGES.get(schema.get("format", ""))
    if bounds is not None and isinstance(value, int) and not bounds[0] <= value <= bounds[1]:
        yield f"{path}: {value} is out of the {schema['format']} range"
    if not isinstance(value, list):
        return
    list_type = schema.get("x-kubernetes-list-type")
    if list_type == "set":
        seen = [yaml.safe_dump(v, sort_keys=True) for v in value]
        if len(set(seen)) != len(seen):
            yield f"{path}: duplicate entries in a list of type set"
    elif list_type == "map":
        keys = [
            tuple(yaml.safe_dump(item.get(k), sort_keys=True) for k in schema["x-kubernetes-list-map-keys"])
            for item in value
        ]
        if len(set(keys)) != len(keys):
            yield f"{path}: duplicate keys {schema['x-kubernetes-list-map-keys']} in a list of type map"


def validate_custom_resource(obj: dict[str, Any], crd_dir: Path) -> list[str]:
    """Every reason the API server would reject ``obj`` as a custom resource of a CRD in ``crd_dir``."""
    group, _, version = obj.get("apiVersion", "").rpartition("/")
    crd_path = crd_index(crd_dir).get((group, obj.get("kind", "")))
    if crd_path is None:
        return [f"no CRD for {obj.get('apiVersion')} {obj.get('kind')} in {crd_dir}"]
    schema = prepared_schema(crd_path, obj["kind"], version)
    if schema is None:
        return [f"CRD {crd_path.name} does not serve version {version!r}"]
    prepared = drop_none(obj)
    apply_defaults(prepared, schema)
    errors = [
        f"{'.'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
        for e in jsonschema.Draft4Validator(schema).iter_errors(prepared)
    ]
    errors += walk(prepared, schema, "", _formats_and_lists)
    errors += walk(prepared, schema, "", _cel_rules)
    return errors
