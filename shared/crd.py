"""The ModelService CustomResourceDefinition, generated from the pydantic models in ``shared.api``.

The models are the single source of truth: field names, descriptions (attribute docstrings),
defaults, enums, bounds and ``x-kubernetes-*`` markers all come from them, so the CRD, the webhook
and the reconciler can never disagree about the API. The pydantic JSON schema is turned into a
Kubernetes *structural* schema: ``$ref`` inlined, ``Optional[X]`` reduced to ``X`` (absence, not
null, means "unset"), titles and null defaults dropped, the implicit int32 range removed, and
int-or-string quantities written in the one ``anyOf`` form the API server allows.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel

from shared import api, yamlio

Schema = dict[str, Any]

_INT32_MIN = -(2**31)
_INT32_MAX = 2**31 - 1
# Keywords pydantic emits that a structural schema must not carry (or that carry no meaning here).
_DROPPED_KEYS = frozenset({"title", "$defs"})

PRINTER_COLUMNS: tuple[dict[str, Any], ...] = (
    {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
    {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
    {"name": "Reason", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].reason'},
    {"name": "Model", "type": "string", "jsonPath": ".spec.model.name"},
    {"name": "Decode", "type": "string", "jsonPath": ".status.decodeReady", "priority": 1},
    {"name": "Prefill", "type": "string", "jsonPath": ".status.prefillReady", "priority": 1},
    {
        "name": "Message",
        "type": "string",
        "jsonPath": '.status.conditions[?(@.type=="Ready")].message',
        "priority": 1,
    },
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
)

SCALE_SUBRESOURCE: dict[str, str] = {
    "specReplicasPath": ".spec.decode.replicas",
    "statusReplicasPath": ".status.decode.replicas",
    "labelSelectorPath": ".status.decode.selector",
}
"""`kubectl scale modelservice/NAME` scales the decode pods (the only group every ModelService has)."""

HEADER = "# Generated from shared/api.py by `make crd` (python -m shared crd). Do not edit by hand.\n"


def _resolve_ref(node: Schema, defs: Schema) -> Schema:
    """Inline a ``$ref``; keys beside it (the field's own description) win over the model's."""
    if "$ref" not in node:
        return node
    target = defs[node["$ref"].rsplit("/", 1)[-1]]
    siblings = {k: v for k, v in node.items() if k != "$ref"}
    return {**_resolve_ref(target, defs), **siblings}


def _unwrap_optional(node: Schema, defs: Schema) -> Schema:
    """``anyOf: [X, {type: null}]`` becomes X plus the outer keys (description, markers)."""
    branches = node.get("anyOf")
    if not isinstance(branches, list):
        return node
    kept = [b for b in branches if b != {"type": "null"}]
    if len(kept) == len(branches):
        return node  # a real anyOf (int-or-string), not an Optional
    if len(kept) != 1:
        raise ValueError(f"cannot express a union of {len(kept)} types in a structural schema: {node}")
    outer = {k: v for k, v in node.items() if k != "anyOf"}
    if outer.get("default", "absent") is None:
        del outer["default"]
    return {**_resolve_ref(kept[0], defs), **outer}


def _drop_implicit_int32_bounds(node: Schema) -> None:
    """Int32 carries the full int32 range as bounds; only user-visible constraints belong in the CRD."""
    if node.get("format") != "int32":
        return
    if node.get("minimum") == _INT32_MIN:
        del node["minimum"]
    if node.get("maximum") == _INT32_MAX:
        del node["maximum"]


def to_structural(node: Schema, defs: Schema) -> Schema:
    """Convert one pydantic JSON-schema node (and everything below it) to a structural schema."""
    node = _unwrap_optional(_resolve_ref(node, defs), defs)
    out: Schema = {}
    for key, value in node.items():
        if key in _DROPPED_KEYS or (key == "default" and value is None):
            continue
        if key == "properties":
            out[key] = {name: to_structural(sub, defs) for name, sub in sorted(value.items())}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = to_structural(value, defs)
        elif key == "required":
            out[key] = sorted(value)
        else:
            out[key] = copy.deepcopy(value)
    if out.get("x-kubernetes-int-or-string"):
        # The API server allows int-or-string only without a type and with exactly this anyOf.
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    _drop_implicit_int32_bounds(out)
    return out


def model_schema(model: type[BaseModel]) -> Schema:
    """The structural schema of a model, as the wire (camelCase) sees it."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    return to_structural(raw, raw.get("$defs", {}))


def open_api_schema() -> Schema:
    """The ``openAPIV3Schema`` of the ModelService version."""
    schema = model_schema(api.ModelService)
    # The API server owns the type meta and object meta; the CRD only declares them.
    schema["properties"]["apiVersion"] = {
        "type": "string",
        "description": f"API version of this object, {api.API_VERSION}.",
    }
    schema["properties"]["kind"] = {"type": "string", "description": f"Kind of this object, {api.KIND}."}
    schema["properties"]["metadata"] = {"type": "object"}
    return schema


def build_crd() -> dict[str, Any]:
    """The complete ``apiextensions.k8s.io/v1`` CustomResourceDefinition."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": api.CRD_NAME},
        "spec": {
            "group": api.GROUP,
            "names": {
                "kind": api.KIND,
                "listKind": api.LIST_KIND,
                "plural": api.PLURAL,
                "singular": api.SINGULAR,
                "shortNames": list(api.SHORT_NAMES),
                "categories": list(api.CATEGORIES),
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": api.VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": open_api_schema()},
                    "subresources": {"status": {}, "scale": dict(SCALE_SUBRESOURCE)},
                    "additionalPrinterColumns": [dict(c) for c in PRINTER_COLUMNS],
                }
            ],
        },
    }


def render_crd_yaml() -> str:
    """The CRD as YAML with sorted keys: byte-for-byte stable, so the committed file can be checked."""
    return HEADER + "---\n" + yamlio.dump_yaml(build_crd(), sort_keys=True)
