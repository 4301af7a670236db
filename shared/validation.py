"""Validation of a raw ModelService manifest: every error with its field path, plus warnings.

Layers, each reporting everything it finds:
1. structure: fields the schema does not declare (the readers ignore them, so a typo such as
   `spec.engine.prot` would otherwise pass silently);
2. the pydantic models in `shared.api` (types, required fields, enums, bounds, quantities),
   paths spelled with the wire names pydantic reports;
3. rules the schema cannot express (`shared.spec_rules`: env vars, tolerations, requests within
   limits, cross-field rules, operator-owned engine flags, formats the children enforce; and
   `shared.scaling_rules`: replicas, autoscaling and rollout strategies) and the derived names
   (`shared.namecheck`), plus warnings (GPU counts set by hand, ignored values);
4. the image policy and, on UPDATE, the permanence of the recorded DNS-1035 name.
Layer 3 needs a parsed model, so it runs only when layer 2 passed.

A sound object (no unknown field, no type error: nearly every real one) takes a fast path that
gives the same report: its spec is parsed once with unknown fields forbidden and judged alone
(`judge_spec`, whose answer a caller may remember by spec), and only the derived names are checked
on the whole object.

Both the admission webhook and the offline tools call `validate`; it is pure.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from pydantic import ValidationError

from shared import namecheck, names, scaling_rules, spec_rules
from shared.api import ModelService, ModelServiceSpec
from shared.defaulting import Node, schema_tree
from shared.settings import OperatorSettings
from shared.spec_rules import (
    FORBIDDEN,
    INVALID,
    NOT_SUPPORTED,
    REQUIRED,
    TOO_LONG,
    TYPE_INVALID,
    FieldError,
)

__all__ = [
    "FORBIDDEN",
    "INVALID",
    "NOT_SUPPORTED",
    "REQUIRED",
    "TOO_LONG",
    "TYPE_INVALID",
    "FieldError",
    "JudgedSpec",
    "Report",
    "SpecVerdict",
    "image_allowed",
    "judge_spec",
    "validate",
]

_PRUNE_ROUNDS = 4
# Findings reported at one path that also read other fields; pruning those inputs voids them.
# Keys are paths with list indices and map keys written as `[]`.
_CROSS_FIELD_INPUTS = {
    "spec.routingProxy.targetPort": ("spec.engine.port",),
    "spec.routingProxy": ("spec.prefill",),
    "spec.engine.args[]": ("spec.model.mountPath",),
    "spec.engine.env[].value": ("spec.engine.port", "spec.routingProxy"),
}
# Scaling rules read siblings: whether the engine is keda, the targets present, the other half
# of the rollout strategy (and whether the pods have accelerators, which sets its default).
for _role in ("decode", "prefill"):
    _scaling = f"spec.{_role}.autoscaling"
    _CROSS_FIELD_INPUTS |= {
        _scaling: (f"{_scaling}.requestsWaiting", f"{_scaling}.kvCacheUsage", f"{_scaling}.metrics"),
        f"{_scaling}.minReplicas": (f"{_scaling}.engine", f"{_scaling}.maxReplicas"),
        f"{_scaling}.metrics[].query": (f"{_scaling}.engine",),
        f"{_scaling}.prometheusAddress": (f"{_scaling}.engine",),
        f"spec.{_role}.rolloutStrategy.maxSurge": (f"spec.{_role}.rolloutStrategy", "spec.accelerator"),
        f"spec.{_role}.rolloutStrategy.maxUnavailable": (f"spec.{_role}.rolloutStrategy", "spec.accelerator"),
    }
_SUBSCRIPT = re.compile(r"\[[^\]]*\]")
_PYDANTIC_REASONS = {
    "missing": REQUIRED,
    "literal_error": NOT_SUPPORTED,
    "string_too_long": TOO_LONG,
    "too_long": TOO_LONG,
}
_QUANTITY_HELP = (
    "must be a quantity: a number with an optional suffix (Ki Mi Gi Ti Pi Ei, n u m k M G T P E, or "
    "an exponent such as e3), as a string or a number, e.g. '500m', '1.5', 2 or '8Gi'"
)


@dataclass(frozen=True)
class Report:
    """The verdict: errors sorted by path (stable), warnings in rule order, the parsed model."""

    errors: tuple[FieldError, ...]
    warnings: tuple[str, ...]
    model: ModelService | None
    remembered: bool = False
    """The spec's verdict came from the caller's memory (see `validate`): the object parsed, but
    its model was not built again, so `model` is None."""

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def parsed(self) -> bool:
        """Whether the object parsed (the rules beyond the schema ran)."""
        return self.model is not None or self.remembered


class SpecVerdict(NamedTuple):
    """What a sound spec decides on its own (for given settings): the findings of the rules that
    read only the spec (spec and scaling rules, image policy, as `FieldError` fields), its warnings,
    and whether it has prefill pods (the one part of the spec the derived names read).

    Plain tuples and strings, which the garbage collector stops tracking, and no model: a caller
    may keep many. Keeping the parsed spec models instead cost a judged-from-scratch request in the
    server about a tenth more, for touching and freeing those models long after they were built.
    """

    errors: tuple[tuple[str, str, str, bool], ...]
    warnings: tuple[str, ...]
    has_prefill: bool


class JudgedSpec(NamedTuple):
    """A spec's verdict, with its model when it was judged just now (None when remembered)."""

    verdict: SpecVerdict
    spec: ModelServiceSpec | None


SpecJudge = Callable[[Any], "JudgedSpec | None"]
"""`judge_spec` for fixed settings, possibly answering from memory (see `validate`)."""


def validate(
    obj: Mapping[str, Any],
    settings: OperatorSettings,
    old: Mapping[str, Any] | None = None,
    *,
    creating: bool = False,
    judge: SpecJudge | None = None,
) -> Report:
    """Check a ModelService manifest as stored (after defaulting).

    `old` is the stored object on UPDATE; `creating` marks admission of a CREATE. Offline checks pass
    neither, and then the recorded DNS-1035 name is only checked for being a DNS-1035 label.

    A sound object, the usual case, takes the fast path: the spec is judged alone (`judge_spec`,
    which `judge` may answer from memory: the same spec comes under other names and, on UPDATE, as
    the old object's spec with other metadata), the envelope is parsed around the spec, and only
    the derived names are checked on the whole. A remembered verdict has no spec model: the
    envelope is then parsed around a stand-in spec of the same shape for the names (with prefill
    pods or without), and the report carries no model. Anything else takes the long way; a
    property test holds the two to the same report.
    """
    judged = judge(obj.get("spec")) if judge is not None else judge_spec(obj.get("spec"), settings)
    whole = None
    if judged is not None:
        spec = judged.spec if judged.spec is not None else _STAND_INS[judged.verdict.has_prefill]
        whole = _envelope(obj, spec)
    if judged is not None and whole is not None:
        errors = [FieldError(*e) for e in judged.verdict.errors]
        errors += (FieldError(p.path, p.message) for p in namecheck.check_names(whole))
        warnings = list(judged.verdict.warnings)
        model = whole if judged.spec is not None else None
        remembered = judged.spec is None
    else:
        model, errors, warnings = long_way(obj, settings)
        remembered = False
    if old is not None or creating:
        errors += name_record_rules(obj, old)
    return Report(tuple(sorted(dict.fromkeys(errors))), tuple(warnings), model, remembered)


def judge_spec(spec: Any, settings: OperatorSettings) -> JudgedSpec | None:
    """The verdict of a sound spec (no unknown field, no type error) and its model, else None."""
    parsed = _sound_spec(spec)
    if parsed is None:
        return None
    errors = (
        *spec_rules.spec_rules(parsed),
        *scaling_rules.scaling_rules(parsed),
        *image_policy(parsed, settings),
    )
    warnings = (*spec_rules.spec_warnings(parsed), *scaling_rules.scaling_warnings(parsed))
    verdict = SpecVerdict(
        tuple((e.path, e.message, e.reason, e.policy) for e in errors), warnings, parsed.prefill is not None
    )
    return JudgedSpec(verdict, parsed)


def _stand_in(has_prefill: bool) -> ModelServiceSpec:
    spec: dict[str, Any] = {
        "model": {"name": "stand-in", "image": "stand-in"},
        "engine": {},
        "accelerator": {"type": "nvidia"},
        "decode": {},
    }
    return ModelServiceSpec.model_validate(spec | ({"prefill": {}} if has_prefill else {}))


_STAND_INS = {False: _stand_in(False), True: _stand_in(True)}
"""Specs that stand in for a remembered one when the envelope is parsed: the derived names read
only the metadata and whether there are prefill pods (`shared.namecheck`)."""


def _envelope(obj: Mapping[str, Any], spec: ModelServiceSpec) -> ModelService | None:
    """The model around a finished spec (pydantic takes the instance as it is), or None when the
    rest of the object has an unknown top-level field or a type error."""
    if not _TOP_LEVEL.issuperset(obj):
        return None
    try:
        return ModelService.model_validate({**obj, "spec": spec})
    except ValidationError:
        return None


def long_way(
    obj: Mapping[str, Any], settings: OperatorSettings
) -> tuple[ModelService | None, list[FieldError], list[str]]:
    """Every layer on the whole object: the unknown-field walk, the lenient parse, then the rules
    on what parsed, dropping findings that read a pruned value."""
    model, errors, pruned = slow_structure(obj)
    warnings: list[str] = []
    if model is not None:
        rule_errors = [
            *spec_rules.spec_rules(model.spec),
            *scaling_rules.scaling_rules(model.spec),
            *(FieldError(p.path, p.message) for p in namecheck.check_names(model)),
            *image_policy(model.spec, settings),
        ]
        index = _Pruned(pruned)
        errors += (e for e in rule_errors if not index.read_by(e.path))
        warnings += spec_rules.spec_warnings(model.spec)
        warnings += scaling_rules.scaling_warnings(model.spec)
    return model, errors, warnings


# --- 1. structure ------------------------------------------------------------------------------

_TOP_LEVEL = frozenset({"apiVersion", "kind", "metadata", "spec", "status"})


def structure(obj: Mapping[str, Any]) -> tuple[ModelService | None, list[FieldError], set[str]]:
    """Layers 1 and 2: (model, unknown-field and type errors, pruned paths), as `slow_structure`.

    A sound object is settled by one pydantic parse of the spec that forbids unknown fields and
    snake_case names: it finds what the `unknown_fields` walk finds, inside pydantic's compiled
    validator instead of a walk in Python. The spec is parsed alone because metadata and status are
    open (the API server's own fields, `managedFields` among them, would be unknown to
    `ObjectMeta`); the envelope is then parsed around the finished spec. Anything else goes the long
    way, whose answer the fast one must equal.
    """
    model = sound_model(obj)
    return (model, [], set()) if model is not None else slow_structure(obj)


def sound_model(obj: Mapping[str, Any]) -> ModelService | None:
    """The model of an object with no unknown field and no type error, else None (the fast path)."""
    spec = _sound_spec(obj.get("spec"))
    return _envelope(obj, spec) if spec is not None else None


def _sound_spec(spec: Any) -> ModelServiceSpec | None:
    """The spec parsed with unknown fields and Python field names refused, or None."""
    if not isinstance(spec, dict):
        return None
    try:
        return ModelServiceSpec.model_validate(spec, extra="forbid", by_name=False)
    except ValidationError:
        return None


def slow_structure(obj: Mapping[str, Any]) -> tuple[ModelService | None, list[FieldError], set[str]]:
    """`structure` the long way: the unknown-field walk, then the lenient parse."""
    errors = unknown_fields(obj)
    model, type_errors, pruned = parse_leniently(obj)
    return model, errors + type_errors, pruned


def join(path: str, key: str | int, node: Node | None = None) -> str:
    """Extend a path: `.field`, `[index]` for lists, `[key]` for map keys."""
    if isinstance(key, int) or (node is not None and node.kind in ("list", "map")):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def unknown_fields(obj: Mapping[str, Any]) -> list[FieldError]:
    """Every field the ModelService schema does not declare (metadata and status excepted)."""
    found: list[FieldError] = []
    _unknown(schema_tree(), obj, "", found)
    return found


def _unknown(node: Node, value: Any, path: str, found: list[FieldError]) -> None:
    # Runs on every validation: a subset test finds strangers without building a set, only
    # structured fields recurse, and `dict` checks skip the ABC machinery of `Mapping` (objects
    # here come from a JSON or YAML decoder).
    if node.kind == "object":
        if not isinstance(value, dict):
            return
        if not node.field_names.issuperset(value):
            for key in sorted(value.keys() - node.field_names, key=str):
                found.append(FieldError(join(path, str(key)), f'unknown field "{key}"', NOT_SUPPORTED))
        for key, sub in node.nested_fields:
            child = value.get(key)
            if child is not None:
                _unknown(sub, child, f"{path}.{key}" if path else key, found)
    elif node.item is not None and node.item.nested:
        if node.kind == "list" and isinstance(value, list):
            for i, child in enumerate(value):
                _unknown(node.item, child, f"{path}[{i}]", found)
        elif node.kind == "map" and isinstance(value, dict):
            for key, child in value.items():
                _unknown(node.item, child, f"{path}[{key}]", found)


def pydantic_errors(error: ValidationError) -> Iterator[FieldError]:
    """Pydantic's errors as FieldErrors, with map keys in brackets."""
    for err in error.errors(include_url=False):
        message = err["msg"].removeprefix("Value error, ")
        message = message[:1].lower() + message[1:]
        if err["type"] != "missing" and _is_quantity(err["loc"]):
            message = _QUANTITY_HELP  # pydantic's regex or "valid string" would not say what fits
        if err["type"] != "missing":
            message = f"Invalid value: {_show(err.get('input'))}: {message}"
        reason = _PYDANTIC_REASONS.get(
            err["type"], TYPE_INVALID if err["type"].endswith("_type") else INVALID
        )
        yield FieldError(_path(err["loc"]) or "<root>", message, reason)


def _is_quantity(loc: Sequence[str | int]) -> bool:
    """Resource limits and requests, and an env var's resourceFieldRef divisor."""
    return (len(loc) >= 3 and loc[-3] == "resources" and loc[-2] in ("limits", "requests")) or (
        len(loc) >= 2 and loc[-2] == "resourceFieldRef" and loc[-1] == "divisor"
    )


def _path(loc: Sequence[str | int]) -> str:
    path, node = "", schema_tree()
    for part in loc:
        path = join(path, part, node)
        node = _child(node, part)
    return path


def parse_leniently(obj: Mapping[str, Any]) -> tuple[ModelService | None, list[FieldError], set[str]]:
    """(model, type errors, pruned paths): the model parsed with the offending values removed.

    Rules beyond the schema then still run on the rest of the object, so one response lists every
    error; rule findings that depend on a pruned value are dropped by the caller. Gives up (model
    None) when removing values cannot make the object parse, e.g. a required section is missing.
    Each round removes every offending value in one copy of the object, so the work grows with the
    size of the object, not with the number of errors times that size.
    """
    try:
        return ModelService.model_validate(obj), [], set()
    except ValidationError as e:
        error = e
    errors = list(pydantic_errors(error))
    work: Any = obj
    pruned: set[str] = set()
    for _ in range(_PRUNE_ROUNDS):
        locs: dict[tuple[str | int, ...], None] = {}
        for err in error.errors(include_url=False):
            loc = err["loc"][:-1] if err["type"] == "missing" else err["loc"]
            while loc and isinstance(loc[-1], int):
                loc = loc[:-1]  # a bad list item prunes the whole list: indices must stay meaningful
            if not loc:
                return None, errors, pruned
            locs[tuple(loc)] = None
        work, complete = _without_all(work, list(locs))
        if not complete:
            return None, errors, pruned
        pruned.update(_path(loc) for loc in locs)
        try:
            return ModelService.model_validate(work), errors, pruned
        except ValidationError as e:
            error = e
    return None, errors, pruned


_REMOVE: dict[Any, Any] = {}
"""Marks a value to remove in the tree `_without_all` walks (compared by identity)."""


def _without_all(obj: Any, locs: Sequence[tuple[str | int, ...]]) -> tuple[Any, bool]:
    """(`obj` without the values at `locs`, whether every one was there), copying each container
    on the way once (the input stays intact). A location inside another one is covered by it."""
    tree: dict[Any, Any] = {}
    for loc in sorted(locs, key=len):  # shorter first: a removed parent covers its children
        node = tree
        for part in loc[:-1]:
            node = node.setdefault(part, {})
            if node is _REMOVE:
                break
        else:
            node[loc[-1]] = _REMOVE
    return _prune(obj, tree)


def _prune(obj: Any, tree: dict[Any, Any]) -> tuple[Any, bool]:
    complete = True
    out: Any
    if isinstance(obj, Mapping):
        out = dict(obj)
    elif isinstance(obj, list):
        out = list(obj)
    else:
        return obj, False
    for key, sub in tree.items():
        if not _has(out, key):
            complete = False
        elif sub is _REMOVE:
            del out[key]  # only map keys: list locations end at the list itself
        else:
            out[key], found = _prune(out[key], sub)
            complete = complete and found
    return out, complete


def _has(container: dict[Any, Any] | list[Any], key: Any) -> bool:
    if isinstance(container, dict):
        return key in container
    return isinstance(key, int) and 0 <= key < len(container)


class _Pruned:
    """The pruned paths, indexed so asking whether a finding depends on one costs the length of
    the finding's path, not the number of pruned paths (thousands in a hostile request)."""

    def __init__(self, pruned: set[str]) -> None:
        self.paths = pruned
        self.ancestors = {a for p in pruned for a in _ancestors(p)}
        self.metadata = any(p.startswith("metadata") for p in pruned)

    def read_by(self, path: str) -> bool:
        """True when a rule finding at `path` read a value that was pruned (or its parents/children)."""
        if not self.paths:
            return False
        if path in self.ancestors or any(a in self.paths for a in _ancestors(path)):
            return True
        inputs = _CROSS_FIELD_INPUTS.get(_SUBSCRIPT.sub("[]", path), ())
        return any(i in self.ancestors for i in inputs) or (self.metadata and path.startswith("metadata"))


def _ancestors(path: str) -> Iterator[str]:
    """`path` and every path it lies within (`a.b[c]` -> `a.b[c]`, `a.b`, `a`)."""
    yield path
    for i, ch in enumerate(path):
        if ch in ".[":
            yield path[:i]


def _child(node: Node, part: str | int) -> Node:
    if node.kind == "object" and isinstance(part, str):
        return node.fields.get(part, node)
    return node.item if node.item is not None else node


def _show(value: Any) -> str:
    text = (
        repr(value) if isinstance(value, str | int | float | bool) or value is None else type(value).__name__
    )
    return text if len(text) <= 80 else text[:77] + "..."


# --- 4. image policy and the recorded name -----------------------------------------------------


def image_allowed(image: str, prefixes: Iterable[str]) -> bool:
    """True when `image` starts with an allowed prefix at a boundary (`/`, `:` or `@`), or no prefixes.

    The boundary keeps the prefix `ghcr.io/llm-d` from also admitting `ghcr.io/llm-d-evil/x`.
    """
    prefixes = tuple(prefixes)
    if not prefixes:
        return True
    for prefix in prefixes:
        if image == prefix or (
            image.startswith(prefix) and (prefix[-1] in "/:@" or image[len(prefix)] in "/:@")
        ):
            return True
    return False


def effective_images(spec: ModelServiceSpec, settings: OperatorSettings) -> list[tuple[str, str, bool]]:
    """(path, image, is the operator default) for every image the children will run."""
    out = [("spec.engine.image", spec.engine.image or settings.default_engine_image, not spec.engine.image)]
    if spec.routing_proxy is not None:
        image = spec.routing_proxy.image
        out.append(("spec.routingProxy.image", image or settings.default_routing_proxy_image, not image))
    picker = spec.inference_pool.endpoint_picker if spec.inference_pool is not None else None
    epp_image = picker.image if picker is not None else None
    out.append(
        ("spec.inferencePool.endpointPicker.image", epp_image or settings.default_epp_image, not epp_image)
    )
    return out


def image_policy(spec: ModelServiceSpec, settings: OperatorSettings) -> Iterator[FieldError]:
    prefixes = settings.allowed_image_prefixes
    if not prefixes:
        return
    for path, image, is_default in effective_images(spec, settings):
        if not image_allowed(image, prefixes):
            origin = " (the operator's default image)" if is_default else ""
            yield FieldError(
                path,
                f"Forbidden: image {image!r}{origin} is not allowed by the image policy; allowed prefixes: "
                + ", ".join(prefixes),
                FORBIDDEN,
                policy=True,
            )


def name_record_rules(obj: Mapping[str, Any], old: Mapping[str, Any] | None) -> Iterator[FieldError]:
    """On CREATE a recorded name must be SAN(NAME); on UPDATE it may neither change nor disappear."""
    path = f"metadata.annotations[{names.DNS1035_NAME_ANNOTATION}]"
    after = _annotation(obj)
    if old is None:
        meta = obj.get("metadata")
        name = meta.get("name") if isinstance(meta, Mapping) else None
        if isinstance(name, str) and name and after is not None and after != names.sanitize_dns1035(name):
            yield FieldError(
                path,
                f"Invalid value: {after!r}: must be {names.sanitize_dns1035(name)!r} (the sanitized "
                "metadata.name) or omitted; the webhook records it",
            )
        return
    before = _annotation(old)
    if before is None or before == after:
        return
    if after is None:
        yield FieldError(
            path, f"Forbidden: removing the recorded name {before!r} would rename children", FORBIDDEN
        )
    else:
        yield FieldError(
            path,
            f"Forbidden: field is immutable: recorded as {before!r} at creation (EPP children are named "
            "after it); it cannot change",
            FORBIDDEN,
        )


def _annotation(obj: Mapping[str, Any]) -> Any:
    meta = obj.get("metadata")
    annotations = meta.get("annotations") if isinstance(meta, Mapping) else None
    return annotations.get(names.DNS1035_NAME_ANNOTATION) if isinstance(annotations, Mapping) else None
