"""The scaling part of a ModelService's status: each pod group's counts and its autoscaler's verdict. Pure.

`status.decode` / `status.prefill` carry the Deployment's `replicas`, `readyReplicas`,
`updatedReplicas` and the pods' label selector as a string; the decode group's is what the
ModelService's scale subresource reports (`kubectl scale`, `kubectl get --subresource=scale`).

The AutoscalingReady condition passes the autoscaler's own word up. A HorizontalPodAutoscaler says
it with three conditions (Kubernetes' HPA walkthrough, "Appendix: Horizontal Pod Autoscaler
Status Conditions"): AbleToScale (it can read and write the target's scale), ScalingActive (it has
the metrics to compute a replica count; False also when scaling is disabled) and ScalingLimited
(the count it wants is clamped to min or max, which is no fault). A KEDA ScaledObject says it with
Ready (KEDA's `condition_types.go`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shared import formats

HPA = "HorizontalPodAutoscaler"
SCALED_OBJECT = "ScaledObject"


@dataclass(frozen=True)
class Autoscaler:
    """A wanted autoscaler of one pod group, and the live object if it exists."""

    role: str
    kind: str
    name: str
    live: Mapping[str, Any] | None


@dataclass(frozen=True)
class Outcome:
    """(ok, reason, message) of one autoscaler, or of all of them together."""

    ok: bool
    reason: str
    message: str


def group_status(deployment: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """`status.<group>` from the Deployment as observed; None when there is none."""
    if deployment is None:
        return None
    observed = deployment.get("status") or {}
    match_labels = ((deployment.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return {
        "replicas": int(observed.get("replicas") or 0),
        "readyReplicas": int(observed.get("readyReplicas") or 0),
        "updatedReplicas": int(observed.get("updatedReplicas") or 0),
        "selector": format_selector(match_labels),
    }


def format_selector(match_labels: Mapping[str, str]) -> str:
    """A matchLabels selector in its string form, keys sorted, as `kubectl get --selector` takes it."""
    return ",".join(f"{key}={match_labels[key]}" for key in sorted(match_labels))


def autoscaling_outcome(autoscalers: Sequence[Autoscaler], missing_kinds: Sequence[str]) -> Outcome:
    """Whether every wanted autoscaler can scale; the first that cannot gives the reason."""
    outcomes = [_one(a, missing_kinds) for a in autoscalers]
    message = "; ".join(f"{a.role}: {o.message}" for a, o in zip(autoscalers, outcomes, strict=True))
    failing = next((o for o in outcomes if not o.ok), None)
    if failing is not None:
        return Outcome(False, failing.reason, message)
    return Outcome(True, "AbleToScale", message)


def _one(autoscaler: Autoscaler, missing_kinds: Sequence[str]) -> Outcome:
    what = f"{autoscaler.kind} {autoscaler.name}"
    if autoscaler.kind in missing_kinds:
        return Outcome(False, "CRDNotInstalled", f"{autoscaler.kind} CRD not installed (is KEDA installed?)")
    if autoscaler.live is None:
        return Outcome(False, "NotFound", f"{what} has not been created yet")
    conditions = (autoscaler.live.get("status") or {}).get("conditions") or []
    if autoscaler.kind == SCALED_OBJECT:
        return _scaled_object(what, conditions)
    return _hpa(what, conditions)


def _hpa(what: str, conditions: Sequence[Mapping[str, Any]]) -> Outcome:
    able, active = _find(conditions, "AbleToScale"), _find(conditions, "ScalingActive")
    if able is None or active is None:
        return Outcome(False, "AwaitingAutoscaler", f"{what}: the autoscaler has not reported on it yet")
    for condition in (able, active):
        if condition.get("status") != "True":
            return _said(what, condition, "NotScaling")
    limited = _find(conditions, "ScalingLimited")
    if limited is not None and limited.get("status") == "True":
        return Outcome(True, "AbleToScale", f"{what} can scale, {_words(limited)}")
    return Outcome(True, "AbleToScale", f"{what} can scale: {_words(active)}")


def _scaled_object(what: str, conditions: Sequence[Mapping[str, Any]]) -> Outcome:
    ready = _find(conditions, "Ready")
    if ready is None or ready.get("status") == "Unknown":
        return Outcome(False, "AwaitingAutoscaler", f"{what}: KEDA has not reported on it yet")
    if ready.get("status") != "True":
        return _said(what, ready, "ScaledObjectNotReady")
    return Outcome(True, "AbleToScale", f"{what} is ready: {_words(ready)}")


def _said(what: str, condition: Mapping[str, Any], fallback: str) -> Outcome:
    """The autoscaler's own reason and message for a condition that is not True."""
    reason = str(condition.get("reason") or "")
    text = f"{what} {condition.get('type')}={condition.get('status')}: {_words(condition)}"
    return Outcome(False, reason if formats.is_condition_reason(reason) else fallback, text)


def _words(condition: Mapping[str, Any]) -> str:
    reason, message = condition.get("reason") or "", condition.get("message") or ""
    return f"{reason} ({message})" if reason and message else str(reason or message)


def _find(conditions: Sequence[Mapping[str, Any]], kind: str) -> Mapping[str, Any] | None:
    return next((c for c in conditions if c.get("type") == kind), None)
