"""Webhook configurations: defaults, validation and deciding which webhooks match a request.

Matching follows the real dispatcher: `rules` (operations, apiGroups, apiVersions, resources
with `x/status`, `*` and `*/*`, scope), `namespaceSelector` (against the namespace's labels, or
the object's own labels for a Namespace; ignored for other cluster-scoped objects),
`objectSelector` (against the new or the old object's labels) and `matchPolicy`: with
`Equivalent` a rule naming another served version of the same resource matches too, and that
webhook is then sent the object in the version its rule names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from localcluster import errors, selectors
from localcluster.errors import FieldError
from localcluster.registry import NAMESPACES_KEY, ResourceType
from localcluster.store import Store

Manifest = dict[str, Any]
MUTATING = ("admissionregistration.k8s.io", "mutatingwebhookconfigurations")
VALIDATING = ("admissionregistration.k8s.io", "validatingwebhookconfigurations")
SIDE_EFFECTS = ["None", "NoneOnDryRun", "Some", "Unknown"]


def default_config(obj: Manifest, mutating: bool) -> None:
    for hook in obj.get("webhooks") or ():
        if not isinstance(hook, dict):
            continue
        hook.setdefault("failurePolicy", "Fail")
        hook.setdefault("matchPolicy", "Equivalent")
        hook.setdefault("namespaceSelector", {})
        hook.setdefault("objectSelector", {})
        hook.setdefault("timeoutSeconds", 10)
        if mutating:
            hook.setdefault("reinvocationPolicy", "Never")
        for rule in hook.get("rules") or ():
            if isinstance(rule, dict):
                rule.setdefault("scope", "*")
        service = (hook.get("clientConfig") or {}).get("service")
        if isinstance(service, dict):
            service.setdefault("port", 443)


def validate_config(obj: Manifest, _old: Manifest | None) -> list[FieldError]:
    errs: list[FieldError] = []
    names: set[str] = set()
    for i, hook in enumerate(obj.get("webhooks") or ()):
        path = f"webhooks[{i}]"
        name = hook.get("name") if isinstance(hook, dict) else None
        if not name:
            errs.append(errors.required(f"{path}.name", ""))
            continue
        if name in names:
            errs.append(errors.FieldError(errors.DUPLICATE, f"{path}.name", name))
        names.add(name)
        if hook.get("sideEffects") not in SIDE_EFFECTS:
            errs.append(errors.not_supported(f"{path}.sideEffects", hook.get("sideEffects"), SIDE_EFFECTS))
        if not hook.get("admissionReviewVersions"):
            errs.append(errors.required(f"{path}.admissionReviewVersions", ""))
        config = hook.get("clientConfig") or {}
        if bool(config.get("url")) == bool(config.get("service")):
            errs.append(errors.required(f"{path}.clientConfig", "exactly one of url or service is required"))
        elif config.get("url") and not str(config["url"]).startswith("https://"):
            errs.append(
                errors.invalid(
                    f"{path}.clientConfig.url", config["url"], "'https' is the only allowed URL scheme"
                )
            )
        for key, allowed in (
            ("failurePolicy", ["Fail", "Ignore"]),
            ("matchPolicy", ["Equivalent", "Exact"]),
            ("reinvocationPolicy", ["IfNeeded", "Never"]),
        ):
            if key in hook and hook[key] not in allowed:
                errs.append(errors.not_supported(f"{path}.{key}", hook[key], allowed))
    return errs


@dataclass(frozen=True, slots=True)
class Match:
    """A webhook that applies to a request, and the version it wants the object in."""

    config: str
    hook: Manifest
    version: str


def _resource_matches(patterns: list[str], resource: str, subresource: str) -> bool:
    for pattern in patterns:
        if pattern == "*/*":
            return True
        res, _, sub = pattern.partition("/")
        if res not in ("*", resource):
            continue
        if (not sub and not subresource) or (subresource and sub in ("*", subresource)):
            return True
    return False


def rule_matches(rule: Manifest, op: str, rt: ResourceType, version: str, subresource: str) -> bool:
    def listed(values: Any, value: str) -> bool:
        return "*" in (values or ()) or value in (values or ())

    scope = rule.get("scope", "*")
    if (scope == "Cluster" and rt.namespaced) or (scope == "Namespaced" and not rt.namespaced):
        return False
    return (
        listed(rule.get("operations"), op)
        and listed(rule.get("apiGroups"), rt.group)
        and listed(rule.get("apiVersions"), version)
        and _resource_matches(list(rule.get("resources") or ()), rt.plural, subresource)
    )


def _matching_version(
    hook: Manifest, op: str, rt: ResourceType, version: str, subresource: str
) -> str | None:
    rules = hook.get("rules") or ()
    if any(rule_matches(r, op, rt, version, subresource) for r in rules):
        return version
    if hook.get("matchPolicy", "Equivalent") != "Equivalent":
        return None
    for other in rt.versions:
        if other != version and any(rule_matches(r, op, rt, other, subresource) for r in rules):
            return other
    return None


def _labels(*objs: Manifest | None) -> list[dict[str, str]]:
    """Label sets of the objects present; an absent object (old on CREATE, new on DELETE) never matches."""
    return [dict(o.get("metadata", {}).get("labels") or {}) for o in objs if o is not None]


def _selected(selector: Manifest | None, label_sets: list[dict[str, str]]) -> bool:
    parsed = selectors.from_label_selector(selector)
    return not parsed or any(selectors.matches(parsed, labels) for labels in label_sets)


def matching(
    store: Store,
    key: tuple[str, str],
    op: str,
    rt: ResourceType,
    version: str,
    subresource: str,
    namespace: str,
    obj: Manifest | None,
    old: Manifest | None,
) -> list[Match]:
    """The webhooks of all configurations of one type (sorted by name) that apply, in order."""
    if rt.namespaced:
        ns_obj = store.get(NAMESPACES_KEY, "", namespace)
        ns_labels: list[dict[str, str]] | None = _labels(ns_obj) or [{}]
    elif rt.key == NAMESPACES_KEY:
        ns_labels = _labels(obj, old)
    else:
        ns_labels = None
    out = []
    for config in store.items(key):
        for hook in config.get("webhooks") or ():
            wanted = _matching_version(hook, op, rt, version, subresource)
            if wanted is None:
                continue
            if ns_labels is not None and not _selected(hook.get("namespaceSelector"), ns_labels):
                continue
            if not _selected(hook.get("objectSelector"), _labels(obj, old)):
                continue
            out.append(Match(config["metadata"]["name"], hook, wanted))
    return out
