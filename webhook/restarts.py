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

from pydantic import ValidationError

from shared.api import ModelService
from shared.builders import deployment, epp_deployment
from shared.builders.defaults import apply_image_defaults
from shared.builders.meta import Manifest
from shared.settings import OperatorSettings

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


def restart_warnings(old: Mapping[str, Any], new: ModelService, settings: OperatorSettings) -> list[str]:
    """One warning per group of pods the update creates, deletes or restarts; none when nothing does.

    An old object that no longer parses (stored before a rule existed) yields no warning rather
    than a failure: the update itself is what matters.
    """
    try:
        before = apply_image_defaults(ModelService.model_validate(old), settings)
    except ValidationError:
        return []
    after = apply_image_defaults(new, settings)
    warnings = []
    for label, build in POD_BUILDERS:
        warning = _warning(label, build(before, settings), build(after, settings))
        if warning is not None:
            warnings.append(warning)
    return warnings


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
