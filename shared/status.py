"""Status derivation: what a ModelService's status says, given what the reconciler observed. Pure.

The reference derived only the Ready condition from the serving Deployments' replica counts. This
keeps its phases and Ready reasons for the serving part (``reconcile.md`` §4) and makes the status
truthful beyond it: Ready is True only when the serving pods AND the Endpoint Picker are ready, and
one condition per area tells which part is missing (serving pods, EPP, routing, optional
integrations, name conflicts, and the autoscalers where a pod group has one:
``shared.scaling_status``). Why pods are not ready comes from the pods themselves
(``shared.diagnosis``): the scheduler's verdict, image pulls, the model unpack, engine crashes, the
model still loading, a stuck rollout. A failure among them turns the phase to Failed, and each pod
group (decode, prefill, endpointPicker) keeps its last failure in ``status.lastFailure`` (reason,
message, pod, time) after it has cleared, as a container keeps its lastState. ``status.decode``
and ``status.prefill`` hold each group's pod counts and selector (the scale subresource's view);
the older flat counters (``decodeReady`` ...) stay as they were.

``derive_status(ms, observed, now)`` returns the whole new status; the caller writes it only when
it differs from the current one. Conditions follow metav1 "set status condition" semantics:
``lastTransitionTime`` moves only when a condition's status value changes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from shared import diagnosis, scaling_status
from shared.diagnosis import FAILURES, Finding, GroupDiagnosis
from shared.scaling_status import Autoscaler

READY = "Ready"
SERVING_READY = "ServingReady"
EPP_READY = "EndpointPickerReady"
ROUTING_READY = "RoutingReady"
INTEGRATIONS_READY = "IntegrationsReady"
NAME_CONFLICT = "NameConflict"
AUTOSCALING_READY = "AutoscalingReady"
MANAGED_TYPES = (
    READY,
    SERVING_READY,
    EPP_READY,
    ROUTING_READY,
    INTEGRATIONS_READY,
    NAME_CONFLICT,
    AUTOSCALING_READY,
)

ROUTING_KINDS = ("InferencePool", "HTTPRoute")
GROUPS = ("decode", "prefill", "endpointPicker")
"""Pod groups, as keys of ``status.lastFailure``."""
MAX_MESSAGE = 32768
"""metav1.Condition caps messages at 32 KiB; longer error texts are cut."""


EventType = Literal["Normal", "Warning"]
READY_NOTE = "All serving replicas are ready"


@dataclass(frozen=True)
class Observed:
    """What the reconciler saw this pass (live objects from its cache, or as the API server returned them)."""

    decode: Mapping[str, Any] | None = None
    prefill: Mapping[str, Any] | None = None
    prefill_enabled: bool = False
    epp: Mapping[str, Any] | None = None
    decode_pods: Sequence[Mapping[str, Any]] = ()
    """The pods of each Deployment, as the reconciler caches them (``reconciler.pods.slim_pod``)."""
    prefill_pods: Sequence[Mapping[str, Any]] = ()
    epp_pods: Sequence[Mapping[str, Any]] = ()
    pool: Mapping[str, Any] | None = None
    route: Mapping[str, Any] | None = None
    route_wanted: bool = False
    missing_kinds: tuple[str, ...] = ()
    """Kinds of wanted children that were skipped because their CRD is not installed."""
    conflicts: tuple[str, ...] = ()
    """One message per wanted child whose name is taken by an object this ModelService does not control."""
    autoscalers: tuple[Autoscaler, ...] = ()
    """The wanted autoscalers (HPA or KEDA ScaledObject per autoscaled pod group), live or not."""
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

    @property
    def failure(self) -> bool:
        return self.reason in FAILURES

    @classmethod
    def of(cls, finding: Finding) -> Verdict:
        return cls(False, finding.reason, finding.message)


def derive_status(ms: Mapping[str, Any], observed: Observed, now: datetime) -> dict[str, Any]:
    """The complete new status of ``ms`` (its manifest) for what was ``observed`` at ``now``."""
    generation = int(ms.get("metadata", {}).get("generation") or 0)
    current: Mapping[str, Any] = ms.get("status") or {}
    groups = _diagnose(observed)
    serving = _serving(observed, groups)
    epp = _epp(observed, groups["endpointPicker"])
    verdicts = {
        READY: _ready(observed, serving, epp),
        SERVING_READY: serving,
        EPP_READY: epp,
        ROUTING_READY: _routing(observed),
        INTEGRATIONS_READY: _integrations(observed),
    }
    if observed.conflicts:
        verdicts[NAME_CONFLICT] = Verdict(True, "OwnedByAnother", "; ".join(observed.conflicts))
    if observed.autoscalers:
        outcome = scaling_status.autoscaling_outcome(observed.autoscalers, observed.missing_kinds)
        verdicts[AUTOSCALING_READY] = Verdict(outcome.ok, outcome.reason, outcome.message)
    prefill = observed.prefill if observed.prefill_enabled else None
    decode_ready, decode_replicas = _counts(observed.decode)
    prefill_ready, prefill_replicas = _counts(prefill)
    status = dict(current)
    status.update(
        observedGeneration=generation,
        phase=_phase(observed, serving, epp),
        decodeReady=decode_ready,
        decodeReplicas=decode_replicas,
        prefillReady=prefill_ready,
        prefillReplicas=prefill_replicas,
        conditions=_conditions(current.get("conditions") or [], verdicts, generation, now),
    )
    for group, deployment in (("decode", observed.decode), ("prefill", prefill)):
        counts = scaling_status.group_status(deployment)
        if counts is None:
            status.pop(group, None)
        else:
            status[group] = counts
    last = _last_failures(current.get("lastFailure") or {}, groups, observed, now)
    if last:
        status["lastFailure"] = last
    else:
        status.pop("lastFailure", None)
    return status


def transition_events(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[tuple[EventType, str, str]]:
    """The Events a status change is worth, as (type, reason, note): one Warning each time a pod
    group's condition turns to a failure reason (the condition's message as the note), one for an
    invalid spec, and one Normal ``Ready`` when the phase becomes Ready. A failure that only
    changes its message (another restart, the scheduler's counts) is no new Event."""
    events: list[tuple[EventType, str, str]] = []
    for kind in (SERVING_READY, EPP_READY, READY):
        before = _condition(old.get("conditions"), kind) or {}
        after = _condition(new.get("conditions"), kind) or {}
        reason = str(after.get("reason") or "")
        if reason == before.get("reason") or after.get("status") != "False":
            continue
        # Ready repeats a group's failure (the group's condition reports it); only its own
        # failure, an invalid spec, is reported from it.
        if (reason in FAILURES and kind != READY) or reason == "InvalidSpec":
            events.append(("Warning", reason, str(after.get("message") or "")))
    if new.get("phase") == "Ready" and old.get("phase") != "Ready":
        events.append(("Normal", "Ready", READY_NOTE))
    return events


def _diagnose(observed: Observed) -> dict[str, GroupDiagnosis]:
    """What each pod group's Deployment and pods say."""
    prefill = (
        diagnosis.diagnose_group(observed.prefill, observed.prefill_pods)
        if observed.prefill_enabled
        else GroupDiagnosis(None, None)
    )
    return {
        "decode": diagnosis.diagnose_group(observed.decode, observed.decode_pods),
        "prefill": prefill,
        "endpointPicker": diagnosis.diagnose_group(observed.epp, observed.epp_pods),
    }


def _last_failures(
    current: Mapping[str, Any], groups: Mapping[str, GroupDiagnosis], observed: Observed, now: datetime
) -> dict[str, Any]:
    """Each group's failure as seen now, or as last seen (it stays after it clears).

    The time is the failure's own when the pod or Deployment says when (a termination, the
    scheduler's verdict, the progress deadline); otherwise it is when the reconciler first saw this
    reason on this pod, kept while that stays the same.
    """
    last = {group: dict(found) for group, found in current.items() if group in GROUPS}
    if observed.invalid is None and not observed.prefill_enabled:
        last.pop("prefill", None)
    for group, found in groups.items():
        failure = found.failure
        if failure is None:
            continue
        before = last.get(group) or {}
        same = before.get("reason") == failure.reason and before.get("pod", "") == failure.pod
        entry = {"reason": failure.reason, "message": failure.message[:MAX_MESSAGE]}
        if failure.pod:
            entry["pod"] = failure.pod
        entry["time"] = failure.time or (before.get("time") if same else None) or _stamp(now)
        last[group] = entry
    return last


def _phase(observed: Observed, serving: Verdict, epp: Verdict) -> str:
    """The pods' phase; reconcile errors and conflicts show in the Ready condition, not here.

    Failed means a pod group needs someone to act (``diagnosis.FAILURES``: pods that cannot be
    scheduled, pulled, unpacked or kept running, a stuck rollout) or the spec is invalid. Pending
    means no serving pod exists yet: a serving Deployment is missing, or its controller has not
    created any pod for it (the reference said Running as soon as the Deployment existed). Running
    means pods exist and not all of them are ready, as a Pod's own phase reads.
    """
    if observed.invalid is not None or serving.failure or epp.failure:
        return "Failed"
    groups = [(observed.decode, observed.decode_pods)]
    if observed.prefill_enabled:
        groups.append((observed.prefill, observed.prefill_pods))
    if any(d is None or _no_pods_yet(d, pods) for d, pods in groups):
        return "Pending"
    return "Ready" if serving.ok and epp.ok else "Running"


def _no_pods_yet(deployment: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]) -> bool:
    """Pods are wanted but none exists: none is cached, and the Deployment controller reports
    none either (its status.replicas counts pods, and lags behind the pods themselves)."""
    _, desired = _counts(deployment)
    return desired > 0 and not pods and not (deployment.get("status") or {}).get("replicas")


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
        return epp if epp.failure else Verdict(False, "EndpointPickerNotReady", epp.message)
    return serving


def _serving(observed: Observed, groups: Mapping[str, GroupDiagnosis]) -> Verdict:
    if observed.decode is None:
        return Verdict(False, "DeploymentNotFound", "Decode Deployment has not been created yet")
    if observed.prefill_enabled and observed.prefill is None:
        return Verdict(False, "DeploymentNotFound", "Prefill Deployment has not been created yet")
    roles = ["decode", "prefill"] if observed.prefill_enabled else ["decode"]
    holding = [found.current for role in roles if (found := groups[role]).current is not None]
    failure = next((f for f in holding if f.failure), None)
    if failure is not None:
        return Verdict.of(failure)
    deployments = [observed.decode, observed.prefill] if observed.prefill_enabled else [observed.decode]
    ready, desired = 0, 0
    for deployment in deployments:
        r, d = _counts(deployment)
        ready, desired = ready + r, desired + d
    loading = next((f for f in holding if f.reason == diagnosis.MODEL_LOADING), None)
    if loading is not None and ready < desired:
        return Verdict(False, loading.reason, f"{ready}/{desired} replicas ready; {loading.message}")
    if ready == 0 and desired > 0:
        return Verdict(False, "PodsStarting", "Waiting for serving pods to become ready")
    if ready < desired:
        return Verdict(False, "PartiallyReady", f"{ready}/{desired} replicas ready")
    return Verdict(True, "AllReplicasReady", f"All {ready} replicas are ready")


def _epp(observed: Observed, found: GroupDiagnosis) -> Verdict:
    if observed.epp is None:
        return Verdict(False, "DeploymentNotFound", "Endpoint picker Deployment has not been created yet")
    if found.current is not None and found.current.failure:
        return Verdict.of(found.current)
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


def _condition(conditions: Sequence[Mapping[str, Any]] | None, kind: str) -> Mapping[str, Any] | None:
    return next((c for c in conditions or () if c.get("type") == kind), None)


def _conditions(
    current: Sequence[Mapping[str, Any]], verdicts: Mapping[str, Verdict], generation: int, now: datetime
) -> list[dict[str, Any]]:
    """Managed conditions from ``verdicts`` (keeping transition times), foreign ones kept, sorted by type."""
    stamp = _stamp(now)
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


def _stamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
