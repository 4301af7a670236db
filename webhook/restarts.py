"""Which serving pods an UPDATE restarts, creates or deletes, found by building the old and new pods.

A Deployment rolls its pods exactly when `spec.template` changes, so the honest answer comes from
the shared builders rather than from a hand-kept list of "fields that restart pods". Only the
Deployments are built (not every child), and only on UPDATE. Each affected group of pods gets one
sentence: which pods, what happens to them, and the parts of the pod template that differ, so a
user can tell an intended restart from a surprise. The EPP's plugin configuration reaches its pods
through a hash in the pod template, so a configuration change shows up here like any other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import orjson
from pydantic import ValidationError

from shared.api import ModelService
from shared.builders import deployment, epp_deployment
from shared.builders.defaults import apply_image_defaults
from shared.builders.meta import Manifest
from shared.settings import OperatorSettings
from webhook.memo import Memo

Builder = Callable[[ModelService, OperatorSettings], Manifest | None]


POD_BUILDERS: tuple[tuple[str, Builder], ...] = (
    ("decode", deployment.build_decode_deployment),
    ("prefill", deployment.build_prefill_deployment),
    ("EPP", epp_deployment.build_epp_deployment),
)
# The field whose presence decides whether a group of pods exists at all.
PRESENCE_FIELDS = {"prefill": "spec.prefill"}
MAX_PARTS = 4
"""Template parts named in one warning; more are counted."""


Templates = tuple[Manifest | None, ...]
"""The Deployments of `POD_BUILDERS`, in order (None where a group has no pods)."""


RestartMemo = Memo[tuple[str, ...]]
"""Recent warnings by pair of old and new objects: a repeated UPDATE (a retry, a dry run and then
the real request) finds its answer (see `webhook.memo`). The pod templates themselves are not
kept: remembered as dicts, every garbage collection walks them (each miss cost twice as much),
and as JSON, decoding them costs about what building them does."""


def restart_warnings(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    model: ModelService | None,
    settings: OperatorSettings,
    memo: RestartMemo | None = None,
) -> list[str]:
    """One warning per group of pods the update creates, deletes or restarts; none when nothing does.

    `model` is `new` parsed, if at hand. An old object that no longer parses (stored before a rule
    existed) yields no warning rather than a failure: the update itself is what matters.
    """

    def compare() -> tuple[str, ...]:
        return tuple(_compare(_build(old, None, settings), _build(new, model, settings)))

    if memo is None:
        return list(compare())
    return list(memo.get_or_compute(_content(old) + b"\n" + _content(new), compare))


def _content(obj: Mapping[str, Any]) -> bytes:
    """What the builders read: the spec, and the name, namespace, labels and annotations."""
    meta = obj.get("metadata") or {}
    return orjson.dumps(
        [meta.get(k) for k in ("name", "namespace", "labels", "annotations")] + [obj.get("spec")]
    )


def _build(obj: Mapping[str, Any], model: ModelService | None, settings: OperatorSettings) -> Templates:
    """The pod groups' Deployments; empty when `obj` no longer parses."""
    try:
        parsed = model if model is not None else ModelService.model_validate(obj)
    except ValidationError:
        return ()
    ms = apply_image_defaults(parsed, settings)
    return tuple(builder(ms, settings) for _, builder in POD_BUILDERS)


def _compare(before: Templates, after: Templates) -> Iterator[str]:
    if not before:
        return
    for (label, _), was, will in zip(POD_BUILDERS, before, after, strict=True):
        warning = _warning(label, was, will)
        if warning is not None:
            yield warning


def _warning(label: str, was: Manifest | None, will: Manifest | None) -> str | None:
    field = PRESENCE_FIELDS.get(label, f"the {label} Deployment")
    if was is None and will is None:
        return None
    if was is None:
        return f"the {label} pods are created: {field} was added"
    if will is None:
        return f"the {label} pods are deleted: {field} was removed"
    parts = list(template_changes(was["spec"]["template"], will["spec"]["template"]))
    if not parts:
        return None
    if len(parts) > MAX_PARTS:
        parts = [*parts[: MAX_PARTS - 1], f"{len(parts) - MAX_PARTS + 1} more"]
    recreate = will["spec"].get("strategy", {}).get("type") == "Recreate"
    happens = "are recreated, all at once" if recreate else "restart"
    return f"the {label} pods {happens}: their pod template changes ({', '.join(parts)})"


def template_changes(was: Manifest, will: Manifest) -> Iterator[str]:
    """The parts of two pod templates that differ, named briefly: `vllm args`, `nodeSelector`."""
    was_annotations = dict(was.get("metadata", {}).get("annotations") or {})
    will_annotations = dict(will.get("metadata", {}).get("annotations") or {})
    hash_key = epp_deployment.CONFIG_HASH_ANNOTATION
    if was_annotations.pop(hash_key, None) != will_annotations.pop(hash_key, None):
        yield "plugin configuration"
    if was_annotations != will_annotations:
        yield "pod annotations"
    if was.get("metadata", {}).get("labels") != will.get("metadata", {}).get("labels"):
        yield "pod labels"
    was_spec, will_spec = was.get("spec", {}), will.get("spec", {})
    for kind in ("initContainers", "containers"):
        yield from _container_changes(was_spec.get(kind) or [], will_spec.get(kind) or [])
    for key in dict.fromkeys([*will_spec, *was_spec]):
        if key not in ("initContainers", "containers") and was_spec.get(key) != will_spec.get(key):
            yield key


def _container_changes(was: list[Manifest], will: list[Manifest]) -> Iterator[str]:
    before = {c["name"]: c for c in was}
    after = {c["name"]: c for c in will}
    for name in dict.fromkeys([*after, *before]):
        old, new = before.get(name), after.get(name)
        if old is None:
            yield f"new {name} container"
        elif new is None:
            yield f"no {name} container"
        else:
            yield from (
                f"{name} {key}" for key in dict.fromkeys([*new, *old]) if old.get(key) != new.get(key)
            )
