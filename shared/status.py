"""Status derivation: what a ModelService's status says, given what the reconciler observed. Pure.

The reference derived only the Ready condition from the serving Deployments' replica counts. This
keeps its phases and Ready reasons for the serving part (``reconcile.md`` §4) and makes the status
truthful beyond it: Ready is True only when the serving pods AND the Endpoint Picker are ready, a
Deployment that cannot make progress turns the phase to Failed, and one condition per area tells
which part is missing (serving pods, EPP, routing, optional integrations, name conflicts).

``derive_status(ms, observed, now)`` returns the whole new status; the caller writes it only when
it differs from the current one. Conditions follow metav1 "set status condition" semantics:
``lastTransitionTime`` moves only when a condition's status value changes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

READY = "Ready"
SERVING_READY = "ServingReady"
EPP_READY = "EndpointPickerReady"
ROUTING_READY = "RoutingReady"
INTEGRATIONS_READY = "IntegrationsReady"
NAME_CONFLICT = "NameConflict"
MANAGED_TYPES = (READY, SERVING_READY, EPP_READY, ROUTING_READY, INTEGRATIONS_READY, NAME_CONFLICT)

ROUTING_KINDS = ("InferencePool", "HTTPRoute")
MAX_MESSAGE = 32768
"""metav1.Condition caps messages at 32 KiB; longer error texts are cut."""


@dataclass(frozen=True)
class Observed:
    """What the reconciler saw this pass (live objects from its cache, or as the API server returned them)."""

    decode: Mapping[str, Any] | None = None
    prefill: Mapping[str, Any] | None = None
    prefill_enabled: bool = False
    epp: Mapping[str, Any] | None = None
    pool: Mapping[str, Any] | None = None
    route: Mapping[str, Any] | None = None
    route_wanted: bool = False
    missing_kinds: tuple[str, ...] = ()
    """Kinds of wanted children that were skipped because their CRD is not installed."""
    conflicts: tuple[str, ...] = ()
    """One message per wanted child whose name is taken by an object this ModelService does not control."""
    error: str | None = None
    """The error that ended this reconcile early, if any."""
    invalid: str | None = None
    """Why the spec is invalid, if it is; nothing was reconciled then."""


@dataclass(frozen=True)
class Verdict:
    """One condition's outcome: status True/False, CamelCase reason, human message."""

    ok: bool
    reason: str
    message: str


def derive_status(ms: Mapping[str, Any], observed: Observed, now: datetime) -> dict[str, Any]:
    """The complete new status of ``ms`` (its manifest) for what was ``observed`` at ``now``."""
    generation = int(ms.get("metadata", {}).get("generation") or 0)
    current: Mapping[str, Any] = ms.get("status") or {}
    serving = _serving(observed)
    epp = _epp(observed)
    verdicts = {
        READY: _ready(observed, serving, epp),
        SERVING_READY: serving,
        EPP_READY: epp,
        ROUTING_READY: _routing(observed),
        INTEGRATIONS_READY: _integrations(observed),
    }
    if observed.conflicts:
        verdicts[NAME_CONFLICT] = Verdict(True, "OwnedByAnother", "; ".join(observed.conflicts))
    decode_ready, decode_replicas = _counts(observed.decode)
    prefill_ready, prefill_replicas = _counts(observed.prefill if observed.prefill_enabled else None)
    status = dict(current)
    status.update(
        observedGeneration=generation,
        phase=_phase(observed, serving.ok and epp.ok),
        decodeReady=decode_ready,
        decodeReplicas=decode_replicas,
        prefillReady=prefill_ready,
        prefillReplicas=prefill_replicas,
        conditions=_conditions(current.get("conditions") or [], verdicts, generation, now),
    )
    return status


def _phase(observed: Observed, pods_ready: bool) -> str:
    """The pods' phase; reconcile errors and conflicts show in the Ready condition, not here.

    Pending means no serving pod exists yet: a serving Deployment is missing, or its controller has
    not created any pod for it (the reference said Running as soon as the Deployment existed, so a
    ModelService whose pods could not even be scheduled looked like it was starting). Running means
    pods exist and not all of them are ready, as a Pod's own phase reads.
    """
    if observed.invalid is not None or _first_failure(observed) is not None:
        return "Failed"
    serving = [observed.decode, observed.prefill] if observed.prefill_enabled else [observed.decode]
    if any(d is None or _no_pods_yet(d) for d in serving):
        return "Pending"
    return "Ready" if pods_ready else "Running"


def _no_pods_yet(deployment: Mapping[str, Any]) -> bool:
    """Pods are wanted but the Deployment controller reports none (status.replicas counts pods)."""
    _, desired = _counts(deployment)
    return desired > 0 and not (deployment.get("status") or {}).get("replicas")


def _ready(observed: Observed, serving: Verdict, epp: Verdict) -> Verdict:
    if observed.invalid is not None:
        return Verdict(False, "InvalidSpec", observed.invalid)
    if observed.error is not None:
        return Verdict(False, "ReconcileError", observed.error)
    if observed.conflicts:
        return Verdict(False, "NameConflict", "; ".join(observed.conflicts))
    if not serving.ok:
        return serving
    if not epp.ok:
        return Verdict(False, "EndpointPickerNotReady", epp.message)
    return serving


def _serving(observed: Observed) -> Verdict:
    if observed.decode is None:
        return Verdict(False, "DeploymentNotFound", "Decode Deployment has not been created yet")
    if observed.prefill_enabled and observed.prefill is None:
        return Verdict(False, "DeploymentNotFound", "Prefill Deployment has not been created yet")
    deployments = [observed.decode, observed.prefill] if observed.prefill_enabled else [observed.decode]
    failure = _failure_of(deployments)
    if failure is not None:
        return failure
    ready, desired = 0, 0
    for deployment in deployments:
        r, d = _counts(deployment)
        ready, desired = ready + r, desired + d
    if ready == 0 and desired > 0:
        return Verdict(False, "PodsStarting", "Waiting for serving pods to become ready")
    if ready < desired:
        return Verdict(False, "PartiallyReady", f"{ready}/{desired} replicas ready")
    return Verdict(True, "AllReplicasReady", f"All {ready} replicas are ready")


def _epp(observed: Observed) -> Verdict:
    if observed.epp is None:
        return Verdict(False, "DeploymentNotFound", "Endpoint picker Deployment has not been created yet")
    failure = _failure_of([observed.epp])
    if failure is not None:
        return failure
    ready, desired = _counts(observed.epp)
    message = f"{ready}/{desired} endpoint picker replicas ready"
    return Verdict(ready >= desired, "Available" if ready >= desired else "NotAvailable", message)


def _routing(observed: Observed) -> Verdict:
    missing = [kind for kind in ROUTING_KINDS if kind in observed.missing_kinds]
    if missing:
        return Verdict(False, "CRDNotInstalled", f"CRD not installed for {', '.join(missing)}")
    wanted = [("InferencePool", observed.pool)]
    if observed.route_wanted:
        wanted.append(("HTTPRoute", observed.route))
    for kind, obj in wanted:
        if obj is None:
            return Verdict(False, "NotFound", f"{kind} has not been created yet")
    verdicts = [_acceptance(kind, obj) for kind, obj in wanted if obj is not None]
    rejected = [message for accepted, message in verdicts if accepted is False]
    if rejected:
        return Verdict(False, "NotAccepted", "; ".join(rejected))
    names = " and ".join(kind for kind, _ in wanted)
    if all(accepted for accepted, _ in verdicts):
        return Verdict(True, "Accepted", f"{names} accepted by their parents")
    return Verdict(True, "Created", f"{names} created; no parent has reported on them yet")


def _acceptance(kind: str, obj: Mapping[str, Any]) -> tuple[bool | None, str]:
    """(True if every parent accepted, False if one rejected, None if none reported; rejection text)."""
    accepted: bool | None = None
    for parent in (obj.get("status") or {}).get("parents") or []:
        condition = _condition(parent.get("conditions"), "Accepted")
        if condition is None:
            continue
        if condition.get("status") != "True":
            name = (parent.get("parentRef") or {}).get("name", "?")
            reason = condition.get("reason", "")
            text = condition.get("message", "")
            return False, f"{kind} {obj['metadata']['name']} not accepted by {name}: {reason} {text}".rstrip()
        accepted = True
    return accepted, ""


def _integrations(observed: Observed) -> Verdict:
    if observed.missing_kinds:
        kinds = ", ".join(sorted(observed.missing_kinds))
        return Verdict(False, "CRDNotInstalled", f"CRDs not installed, children skipped: {kinds}")
    return Verdict(True, "AllInstalled", "Every wanted child kind is installed")


def _counts(deployment: Mapping[str, Any] | None) -> tuple[int, int]:
    """(readyReplicas, spec.replicas) of a Deployment; zeros when absent."""
    if deployment is None:
        return 0, 0
    desired = (deployment.get("spec") or {}).get("replicas")
    ready = (deployment.get("status") or {}).get("readyReplicas") or 0
    return int(ready), int(1 if desired is None else desired)


def _first_failure(observed: Observed) -> Verdict | None:
    deployments = [observed.decode, observed.epp]
    if observed.prefill_enabled:
        deployments.append(observed.prefill)
    return _failure_of([d for d in deployments if d is not None])


def _failure_of(deployments: Sequence[Mapping[str, Any] | None]) -> Verdict | None:
    """A Deployment that cannot make progress: deadline exceeded, or pods cannot be created."""
    for deployment in deployments:
        if deployment is None:
            continue
        conditions = (deployment.get("status") or {}).get("conditions")
        name = deployment["metadata"]["name"]
        progressing = _condition(conditions, "Progressing")
        deadline = progressing and progressing.get("reason") == "ProgressDeadlineExceeded"
        if deadline and progressing and progressing.get("status") == "False":
            message = progressing.get("message") or "progress deadline exceeded"
            return Verdict(False, "ProgressDeadlineExceeded", f"Deployment {name}: {message}")
        replica_failure = _condition(conditions, "ReplicaFailure")
        if replica_failure and replica_failure.get("status") == "True":
            message = replica_failure.get("message") or "pods cannot be created"
            return Verdict(False, "ReplicaFailure", f"Deployment {name}: {message}")
    return None


def _condition(conditions: Sequence[Mapping[str, Any]] | None, kind: str) -> Mapping[str, Any] | None:
    return next((c for c in conditions or () if c.get("type") == kind), None)


def _conditions(
    current: Sequence[Mapping[str, Any]], verdicts: Mapping[str, Verdict], generation: int, now: datetime
) -> list[dict[str, Any]]:
    """Managed conditions from ``verdicts`` (keeping transition times), foreign ones kept, sorted by type."""
    stamp = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    by_type = {c.get("type"): c for c in current}
    result = [dict(c) for c in current if c.get("type") not in MANAGED_TYPES]
    for kind, verdict in verdicts.items():
        status = "True" if verdict.ok else "False"
        previous = by_type.get(kind)
        unchanged = previous is not None and previous.get("status") == status
        result.append(
            {
                "type": kind,
                "status": status,
                "reason": verdict.reason,
                "message": verdict.message[:MAX_MESSAGE],
                "observedGeneration": generation,
                "lastTransitionTime": previous["lastTransitionTime"]
                if unchanged and previous and previous.get("lastTransitionTime")
                else stamp,
            }
        )
    return sorted(result, key=lambda c: str(c.get("type")))
