"""Schema defaulting of a raw ModelService manifest, as JSON Patch operations.

Also the other rewrites the mutating webhook makes: the recorded DNS-1035 name, the operator's
default images, and float quantities turned into strings the CRD schema admits.

The defaults come from the pydantic models in `shared.api`: a field with a non-None default there is
exactly a field with a CRD schema default, so the CRD, the readers and the mutating webhook share one
source. Defaults apply only where the parent object exists, like the API server's structural
defaulting (`prefill` absent stays absent; `parallelism` absent gets no `tensor`).

The work happens on the raw dict, never through a pydantic round trip, so unknown fields and key
order survive. The result is a list of `add`/`replace` operations rather than a diff: diffing the
whole object with `jsonpatch.make_patch` costs more than everything else the webhook does per
request, while here the operations fall out of the walk for free (tests check they equal the diff).

This module also holds the schema tree (`schema_tree()`): fields by wire name, list items, map
values. Validation walks the same tree to report unknown fields and to spell paths.
"""

from __future__ import annotations

import copy
import functools
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from shared import api, names
from shared.settings import OperatorSettings

DEFAULT_REPLICAS = 1
"""Pods of a group without autoscaling when `replicas` is absent (the reference's default)."""


class PatchOp(TypedDict):
    """One RFC 6902 operation; only `add` and `replace` are ever produced."""

    op: Literal["add", "replace"]
    path: str
    value: Any


@dataclass(frozen=True)
class Node:
    """A schema node: an object with known fields, a list, a map, or a scalar leaf."""

    kind: Literal["object", "list", "map", "leaf", "open"]
    fields: Mapping[str, Node] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    item: Node | None = None
    # Derived for the defaulting walk, which runs on every admission request: only subtrees that
    # can receive a default are visited at all.
    has_defaults: bool = field(init=False, compare=False)
    default_items: tuple[tuple[str, Any], ...] = field(init=False, compare=False)
    walk_fields: tuple[tuple[str, Node], ...] = field(init=False, compare=False)
    # Derived for the unknown-field check: known names as a set, and the fields with structure.
    field_names: frozenset[str] = field(init=False, compare=False)
    nested_fields: tuple[tuple[str, Node], ...] = field(init=False, compare=False)

    @property
    def nested(self) -> bool:
        """True for nodes with structure below (objects, and lists or maps of them)."""
        return self.kind == "object" or (self.item is not None and self.item.nested)

    def __post_init__(self) -> None:
        object.__setattr__(self, "field_names", frozenset(self.fields))
        object.__setattr__(self, "nested_fields", tuple((k, n) for k, n in self.fields.items() if n.nested))
        walk = tuple((k, n) for k, n in self.fields.items() if n.has_defaults)
        item_defaults = self.item is not None and self.item.has_defaults
        object.__setattr__(self, "default_items", tuple(self.defaults.items()))
        object.__setattr__(self, "walk_fields", walk)
        object.__setattr__(self, "has_defaults", bool(self.defaults) or bool(walk) or item_defaults)


LEAF = Node("leaf")
OPEN = Node("open")  # Anything goes below (ObjectMeta, status): the API server owns those.


def _node_for(annotation: Any) -> Node:
    origin = typing.get_origin(annotation)
    if origin in (types.UnionType, typing.Union):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _node_for(members[0]) if len(members) == 1 else LEAF
    if origin is typing.Annotated:
        return _node_for(typing.get_args(annotation)[0])
    if origin in (tuple, list):
        return Node("list", item=_node_for(typing.get_args(annotation)[0]))
    if origin is dict:
        return Node("map", item=_node_for(typing.get_args(annotation)[1]))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _model_node(annotation)
    return LEAF


@functools.cache
def _model_node(model: type[BaseModel]) -> Node:
    fields: dict[str, Node] = {}
    defaults: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        wire = info.alias or name
        fields[wire] = _node_for(info.annotation)
        if info.default is not PydanticUndefined and info.default is not None:
            defaults[wire] = info.default
    return Node("object", fields=fields, defaults=defaults)


@functools.cache
def schema_tree() -> Node:
    """The ModelService wire schema; metadata and status are left open (the API server's business)."""
    spec = _model_node(api.ModelServiceSpec)
    return Node(
        "object",
        fields={"apiVersion": LEAF, "kind": LEAF, "metadata": OPEN, "spec": spec, "status": OPEN},
    )


def pointer(parts: tuple[str | int, ...]) -> str:
    """An RFC 6901 JSON pointer for a path of keys and indices."""
    return "".join("/" + _escape(str(p)) for p in parts)


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _walk(node: Node, value: Any, at: str, ops: list[PatchOp]) -> None:
    """Append ops for the defaults missing under `value` (at JSON pointer `at`); hot path."""
    kind = node.kind
    if kind == "object":
        if not isinstance(value, dict):
            return
        get = value.get
        for key, default in node.default_items:
            if get(key) is None:
                ops.append(
                    {"op": "replace" if key in value else "add", "path": f"{at}/{key}", "value": default}
                )
        for key, sub in node.walk_fields:
            child = get(key)
            if child is not None:
                _walk(sub, child, f"{at}/{key}", ops)
    elif kind == "list" and isinstance(value, list):
        item = node.item
        assert item is not None
        for i, child in enumerate(value):
            _walk(item, child, f"{at}/{i}", ops)
    elif kind == "map" and isinstance(value, dict):
        item = node.item
        assert item is not None
        for key, child in value.items():
            _walk(item, child, f"{at}/{_escape(str(key))}", ops)


def schema_default_ops(obj: Mapping[str, Any]) -> list[PatchOp]:
    """Operations that add every missing CRD schema default under `spec`."""
    ops: list[PatchOp] = []
    spec = obj.get("spec")
    if isinstance(spec, dict):
        _walk(schema_tree().fields["spec"], spec, "/spec", ops)
    return ops


def replicas_default_ops(obj: Mapping[str, Any]) -> list[PatchOp]:
    """`replicas: 1` for each pod group that has neither replicas nor autoscaling.

    The one default the CRD schema cannot express: it depends on a sibling. The schema used to
    default `replicas` to 1 everywhere, and then a stored `replicas` could not tell the user's
    choice from the default; now the webhook writes it only where no autoscaler owns the count,
    so every stored object reads as before, and a `replicas` beside `autoscaling` was written
    by someone (and is denied).
    """
    ops: list[PatchOp] = []
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return ops
    for role in ("decode", "prefill"):
        section = spec.get(role)
        if (
            isinstance(section, dict)
            and section.get("replicas") is None
            and section.get("autoscaling") is None
        ):
            op: Literal["add", "replace"] = "replace" if "replicas" in section else "add"
            ops.append({"op": op, "path": f"/spec/{role}/replicas", "value": DEFAULT_REPLICAS})
    return ops


def image_default_ops(obj: Mapping[str, Any], settings: OperatorSettings) -> list[PatchOp]:
    """Operations that fill empty image fields from the operator's default images.

    Only where the owning object exists: the engine, the routing proxy when `routingProxy` is set,
    the EPP when `inferencePool.endpointPicker` is set (without it the operator's default EPP is
    implied and nothing is stored).
    """
    ops: list[PatchOp] = []
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return ops
    pool = spec.get("inferencePool")
    picker = pool.get("endpointPicker") if isinstance(pool, dict) else None
    for at, owner, image in (
        ("/spec/engine/image", spec.get("engine"), settings.default_engine_image),
        ("/spec/routingProxy/image", spec.get("routingProxy"), settings.default_routing_proxy_image),
        ("/spec/inferencePool/endpointPicker/image", picker, settings.default_epp_image),
    ):
        if isinstance(owner, dict) and not owner.get("image") and image:
            ops.append({"op": "replace" if "image" in owner else "add", "path": at, "value": image})
    return ops


def name_record_ops(obj: Mapping[str, Any], old: Mapping[str, Any] | None) -> list[PatchOp]:
    """Record SAN(NAME) in the DNS-1035 name annotation.

    CREATE (`old` is None): record it unless present. With `generateName` and no `name` the final
    name is not known at this point, so nothing is recorded; the builders compute SAN(NAME) until
    an UPDATE records it.
    UPDATE: the recorded value is permanent. If the new object dropped it (a `kubectl replace` or a
    server-side apply of a manifest that never carried it), the OLD value is restored so routine
    re-applies keep working; a changed value is left alone for validation to reject. An object
    created before the webhook existed gets SAN(NAME) on its first UPDATE.
    """
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return []
    annotations = meta.get("annotations")
    present = isinstance(annotations, dict) and names.DNS1035_NAME_ANNOTATION in annotations
    if present:
        return []
    value = recorded_name(old)
    if value is None:
        name = meta.get("name")
        if not isinstance(name, str) or not name:
            return []
        value = names.sanitize_dns1035(name)
    if not isinstance(annotations, dict):
        return [
            {
                "op": "add" if "annotations" not in meta else "replace",
                "path": "/metadata/annotations",
                "value": {names.DNS1035_NAME_ANNOTATION: value},
            }
        ]
    return [
        {
            "op": "add",
            "path": pointer(("metadata", "annotations", names.DNS1035_NAME_ANNOTATION)),
            "value": value,
        }
    ]


def recorded_name(old: Mapping[str, Any] | None) -> str | None:
    """The DNS-1035 name recorded in `old`'s annotations, if it holds a string."""
    meta = old.get("metadata") if old is not None else None
    annotations = meta.get("annotations") if isinstance(meta, dict) else None
    value = annotations.get(names.DNS1035_NAME_ANNOTATION) if isinstance(annotations, dict) else None
    return value if isinstance(value, str) else None


def quantity_text(value: float) -> str:
    """The string form of a numeric quantity: the text the readers in `shared.kube_types` make of it.

    `str` of a finite float always matches the quantity grammar (`1.5`, `1000.0`, `1e+21`, `1e-07`).
    """
    return str(value)


def quantity_ops(obj: Mapping[str, Any]) -> list[PatchOp]:
    """Operations that replace each float quantity with its string form.

    The models read `cpu: 1.5` like a Pod does, but the CRD's int-or-string schema cannot admit a
    float, and the API server checks the schema after mutating admission: without this rewrite
    such an object is rejected before validation could say anything. Integers are left as written:
    the schema admits them, and rewriting them would make a plain `cpu: 4` manifest differ from
    the stored object for nothing. Covers resource limits and requests of decode, prefill and the
    EPP, the autoscaling targets, and the env vars' `resourceFieldRef.divisor`.
    """
    ops: list[PatchOp] = []
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return ops
    for role in ("decode", "prefill"):
        section = spec.get(role)
        if isinstance(section, dict):
            _resources_ops(section.get("resources"), f"/spec/{role}/resources", ops)
            _autoscaling_ops(section.get("autoscaling"), f"/spec/{role}/autoscaling", ops)
    pool = spec.get("inferencePool")
    picker = pool.get("endpointPicker") if isinstance(pool, dict) else None
    if isinstance(picker, dict):
        _resources_ops(picker.get("resources"), "/spec/inferencePool/endpointPicker/resources", ops)
    engine = spec.get("engine")
    env = engine.get("env") if isinstance(engine, dict) else None
    for i, var in enumerate(env if isinstance(env, list) else ()):
        source = var.get("valueFrom") if isinstance(var, dict) else None
        ref = source.get("resourceFieldRef") if isinstance(source, dict) else None
        if isinstance(ref, dict) and _is_float(ref.get("divisor")):
            at = f"/spec/engine/env/{i}/valueFrom/resourceFieldRef/divisor"
            ops.append({"op": "replace", "path": at, "value": quantity_text(ref["divisor"])})
    return ops


def _is_float(value: Any) -> bool:
    # Infinities and NaN (possible from YAML, never from JSON) are left for validation to reject.
    return isinstance(value, float) and math.isfinite(value)


def _autoscaling_ops(scaling: Any, at: str, ops: list[PatchOp]) -> None:
    """Autoscaling targets are quantities too (`kvCacheUsage: 0.8` is the natural spelling)."""
    if not isinstance(scaling, dict):
        return
    for key in ("requestsWaiting", "kvCacheUsage"):
        if _is_float(scaling.get(key)):
            ops.append({"op": "replace", "path": f"{at}/{key}", "value": quantity_text(scaling[key])})
    metrics = scaling.get("metrics")
    for i, metric in enumerate(metrics if isinstance(metrics, list) else ()):
        if isinstance(metric, dict) and _is_float(metric.get("averageValue")):
            value = quantity_text(metric["averageValue"])
            ops.append({"op": "replace", "path": f"{at}/metrics/{i}/averageValue", "value": value})


def _resources_ops(resources: Any, at: str, ops: list[PatchOp]) -> None:
    if not isinstance(resources, dict):
        return
    for kind in ("limits", "requests"):
        values = resources.get(kind)
        if not isinstance(values, dict):
            continue
        for key, value in values.items():
            if _is_float(value):
                path = f"{at}/{kind}/{_escape(str(key))}"
                ops.append({"op": "replace", "path": path, "value": quantity_text(value)})


def default_ops(
    obj: Mapping[str, Any],
    settings: OperatorSettings,
    old: Mapping[str, Any] | None = None,
    *,
    images: bool = True,
) -> list[PatchOp]:
    """Everything the mutating webhook does, as operations; empty when the object is complete.

    `images=False` leaves empty images empty (the reconciler then applies the current defaults).
    """
    image_ops = image_default_ops(obj, settings) if images else []
    return [
        *name_record_ops(obj, old),
        *image_ops,
        *schema_default_ops(obj),
        *replicas_default_ops(obj),
        *quantity_ops(obj),
    ]


def apply_ops(obj: Mapping[str, Any], ops: list[PatchOp]) -> dict[str, Any]:
    """A deep copy of `obj` with `ops` applied (they only add or replace keys of existing objects)."""
    out: dict[str, Any] = copy.deepcopy(dict(obj))
    for op in ops:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        target: Any = out
        for part in parts[:-1]:
            target = target[int(part)] if isinstance(target, list) else target[part]
        target[parts[-1]] = copy.deepcopy(op["value"])
    return out


def defaulted(obj: Mapping[str, Any], settings: OperatorSettings) -> dict[str, Any]:
    """The manifest as the mutating webhook would store it on CREATE (for the offline tools)."""
    return apply_ops(obj, default_ops(obj, settings))
