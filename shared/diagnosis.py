"""Why a pod group is not ready, in its pods' own words. Pure.

A group is the pods of one Deployment: decode, prefill or the Endpoint Picker (EPP). Pods are read
as the reconciler caches them (``reconciler.pods.slim_pod``: identity, conditions, container and
init-container states); the Deployment supplies its conditions, its counts and, from its pod
template, what each pod asks for (accelerators, the ModelPack reference).

``diagnose_pod`` says what holds one pod back, checked in the order a pod gets going: scheduled
at all, then each init container (image, creation, the model unpack), then each container (image,
creation, crashes, the model still loading). ``diagnose_group`` adds what only the Deployment
knows (pods that cannot be created, a rollout past its progress deadline) and picks the first
offending pod by name, so the same pod is quoted pass after pass.

Every quoted text goes through ``shared.quoting.quote``: one line, short, no credentials.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shared import gpu
from shared.quoting import quote

UNSCHEDULABLE = "Unschedulable"
IMAGE_PULL_FAILED = "ImagePullFailed"
CONTAINER_CREATE_FAILED = "ContainerCreateFailed"
MODEL_UNPACK_FAILED = "ModelUnpackFailed"
ENGINE_CRASH_LOOP = "EngineCrashLoop"
CRASH_LOOP = "CrashLoop"
ROLLOUT_STUCK = "RolloutStuck"
PROGRESS_DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"
REPLICA_FAILURE = "ReplicaFailure"
MODEL_LOADING = "ModelLoading"
FAILURES = frozenset(
    {
        UNSCHEDULABLE,
        IMAGE_PULL_FAILED,
        CONTAINER_CREATE_FAILED,
        MODEL_UNPACK_FAILED,
        ENGINE_CRASH_LOOP,
        CRASH_LOOP,
        ROLLOUT_STUCK,
        PROGRESS_DEADLINE_EXCEEDED,
        REPLICA_FAILURE,
    }
)
"""Reasons that need someone to act: the phase turns Failed and the group records a lastFailure."""

ENGINE_CONTAINER = "vllm"
UNPACK_CONTAINER = "model-unpack"
MODEL_REFERENCE_ENV = "OCI_MODEL_IMAGE"
TEMPLATE_HASH = "pod-template-hash"
# What a kubelet reports while an image cannot be pulled, or a container cannot be created.
IMAGE_PULL_REASONS = frozenset(
    {
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "ErrImageNeverPull",
        "RegistryUnavailable",
        "SignatureValidationFailed",
    }
)
CREATE_REASONS = frozenset(
    {"CreateContainerConfigError", "CreateContainerError", "PreCreateHookError", "PreStartHookError"}
)

Manifest = Mapping[str, Any]
_NEW_REPLICA_SET = re.compile(r'^ReplicaSet "([^"]+)" has timed out progressing')


@dataclass(frozen=True)
class Finding:
    """What holds a pod or a group back: reason, a one-line message, the pod, and when (if known)."""

    reason: str
    message: str
    pod: str = ""
    time: str | None = None

    @property
    def failure(self) -> bool:
        return self.reason in FAILURES


@dataclass(frozen=True)
class GroupDiagnosis:
    """``current``: what keeps the group from being ready beyond counting replicas (None: nothing
    more to say); ``failure``: the failure to record as the group's lastFailure, which a pod of a
    ready group can have too (a new pod of a rollout that cannot start)."""

    current: Finding | None
    failure: Finding | None


def diagnose_group(deployment: Manifest | None, pods: Sequence[Manifest]) -> GroupDiagnosis:
    """Why the pods of ``deployment`` are not (all) ready."""
    if deployment is None:
        return GroupDiagnosis(None, None)
    live = sorted((p for p in pods if _alive(p)), key=_name)
    findings = [f for f in (diagnose_pod(p, deployment) for p in live) if f is not None]
    first_failure = next((f for f in findings if f.failure), None)
    current = _deployment_failure(deployment, live, findings)
    if current is None and not _all_ready(deployment):
        current = first_failure or _deadline(deployment) or next(iter(findings), None)
    return GroupDiagnosis(current, current if current is not None and current.failure else first_failure)


def diagnose_pod(pod: Manifest, deployment: Manifest | None = None) -> Finding | None:
    """What holds ``pod`` back; None when nothing does (ready) or nothing is known yet (starting)."""
    name = _name(pod)
    status = pod.get("status") or {}
    scheduled = _condition(status.get("conditions"), "PodScheduled")
    if scheduled and scheduled.get("status") == "False" and scheduled.get("reason") == "Unschedulable":
        asks = accelerators(deployment)
        who = f"pod {name} (asks for {asks})" if asks else f"pod {name}"
        words = quote(scheduled.get("message") or "no node fits")
        return Finding(
            UNSCHEDULABLE, f"{who} cannot be scheduled: {words}", name, scheduled.get("lastTransitionTime")
        )
    for container in status.get("initContainerStatuses") or ():
        found = _init_container(name, container, deployment)
        if found is not None:
            return found
    waiting: Finding | None = None
    for container in status.get("containerStatuses") or ():
        found = _container(name, container)
        if found is not None and found.failure:
            return found
        waiting = waiting or found
    return waiting


def accelerators(deployment: Manifest | None) -> str:
    """What one pod of ``deployment`` asks for in accelerators ("16 nvidia.com/gpu"), or ""."""
    asked: dict[str, int] = {}
    for container in _template(deployment).get("containers") or ():
        limits = (container.get("resources") or {}).get("limits") or {}
        for resource, value in limits.items():
            if resource in gpu.ACCELERATOR_RESOURCES and str(value).isdigit():
                asked[resource] = asked.get(resource, 0) + int(value)
    return ", ".join(f"{count} {resource}" for resource, count in sorted(asked.items()))


def model_reference(deployment: Manifest | None) -> str:
    """The ModelPack the model-unpack init container pulls, per the pod template, or ""."""
    for container in _template(deployment).get("initContainers") or ():
        if container.get("name") == UNPACK_CONTAINER:
            env = {e.get("name"): e.get("value") for e in container.get("env") or ()}
            return str(env.get(MODEL_REFERENCE_ENV) or "")
    return ""


# ----- one container --------------------------------------------------------------------------


def _init_container(pod: str, container: Manifest, deployment: Manifest | None) -> Finding | None:
    found = _cannot_start(pod, container)
    if found is not None:
        return found
    if container.get("name") != UNPACK_CONTAINER:
        return _crashing(pod, container)
    ended = _failed_termination(container)
    if ended is None:
        return None
    reference = model_reference(deployment)
    what = f"unpacking {quote(reference)}" if reference else "unpacking the model"
    words = quote(ended.get("message")) or "no termination message"
    restarts = _restarts(container)
    message = (
        f"pod {pod}: {UNPACK_CONTAINER} exited with code {ended.get('exitCode')} {what}{restarts}: {words}"
    )
    return Finding(MODEL_UNPACK_FAILED, message, pod, ended.get("finishedAt"))


def _container(pod: str, container: Manifest) -> Finding | None:
    found = _cannot_start(pod, container) or _crashing(pod, container)
    if found is not None:
        return found
    running = (container.get("state") or {}).get("running")
    started = container.get("started", container.get("ready"))
    if running is not None and not started and container.get("name") == ENGINE_CONTAINER:
        since = running.get("startedAt") or "an unknown time"
        message = (
            f"pod {pod}: {ENGINE_CONTAINER} loading the model since {since} (startup probe not passed yet)"
        )
        return Finding(MODEL_LOADING, message, pod, running.get("startedAt"))
    return None


def _cannot_start(pod: str, container: Manifest) -> Finding | None:
    """The container's image cannot be pulled, or the container cannot be created."""
    waiting = (container.get("state") or {}).get("waiting") or {}
    reason = waiting.get("reason") or ""
    name = container.get("name", "?")
    words = f"{reason}: {quote(waiting.get('message'))}" if waiting.get("message") else reason
    if reason in IMAGE_PULL_REASONS:
        image = quote(container.get("image"))
        return Finding(
            IMAGE_PULL_FAILED, f"pod {pod}: container {name} cannot pull image {image}: {words}", pod
        )
    if reason in CREATE_REASONS:
        return Finding(
            CONTAINER_CREATE_FAILED, f"pod {pod}: container {name} cannot be created: {words}", pod
        )
    return None


def _crashing(pod: str, container: Manifest) -> Finding | None:
    """The container ended badly and is not running again ready: a crash loop in the making."""
    state = container.get("state") or {}
    ended = _failed_termination(container)
    restarting = (state.get("waiting") or {}).get("reason") == "CrashLoopBackOff"
    if ended is None or not (restarting or "terminated" in state or not container.get("ready")):
        return None
    name = container.get("name", "?")
    reason = ENGINE_CRASH_LOOP if name == ENGINE_CONTAINER else CRASH_LOOP
    how = f"{ended.get('reason') or 'Error'} (exit code {ended.get('exitCode')})"
    words = f": {quote(ended.get('message'))}" if ended.get("message") else ""
    message = f"pod {pod}: {name} exited with {how}{_restarts(container)}{words}"
    return Finding(reason, message, pod, ended.get("finishedAt"))


def _failed_termination(container: Manifest) -> Manifest | None:
    """The container's current termination if it has ended, else its last one; if a failure.

    An init container that failed once and then completed has a failed last state and a
    successful current one: it is done, not failing.
    """
    state = container.get("state") or {}
    ended = (
        state["terminated"] if "terminated" in state else (container.get("lastState") or {}).get("terminated")
    )
    if ended and (ended.get("exitCode") not in (None, 0) or ended.get("reason") == "OOMKilled"):
        return dict(ended)
    return None


def _restarts(container: Manifest) -> str:
    count = int(container.get("restartCount") or 0)
    return f", restarted {count} time{'s' if count != 1 else ''}" if count else ""


# ----- the Deployment -------------------------------------------------------------------------


def _deployment_failure(
    deployment: Manifest, pods: Sequence[Manifest], findings: Sequence[Finding]
) -> Finding | None:
    """Pods cannot be created, or a rollout with old and new pods is past its progress deadline."""
    name = deployment["metadata"]["name"]
    conditions = (deployment.get("status") or {}).get("conditions")
    replica_failure = _condition(conditions, "ReplicaFailure")
    if replica_failure and replica_failure.get("status") == "True":
        words = quote(replica_failure.get("message")) or "pods cannot be created"
        return Finding(
            REPLICA_FAILURE, f"Deployment {name}: {words}", time=replica_failure.get("lastUpdateTime")
        )
    progressing = _exceeded(deployment)
    generations = _by_template(pods)
    if progressing is None or len(generations) < 2:
        return None
    newest = _new_template(name, progressing) or max(
        generations, key=lambda t: max((_created(p), _name(p)) for p in generations[t])
    )
    new = generations.get(newest) or []
    old = [p for template, group in generations.items() if template != newest for p in group]
    if not new or not old:
        return None
    words = quote(progressing.get("message")) or "progress deadline exceeded"
    message = f"Deployment {name}: {words}; {len(old)} old and {len(new)} new pods"
    new_names = {_name(p) for p in new}
    blocked = next((f for f in findings if f.pod in new_names), None)
    if blocked is not None:
        message += f"; {blocked.message}"
    pod = blocked.pod if blocked is not None else _name(new[0])
    return Finding(ROLLOUT_STUCK, message, pod, progressing.get("lastUpdateTime"))


def _deadline(deployment: Manifest) -> Finding | None:
    progressing = _exceeded(deployment)
    if progressing is None:
        return None
    words = quote(progressing.get("message")) or "progress deadline exceeded"
    name = deployment["metadata"]["name"]
    return Finding(
        PROGRESS_DEADLINE_EXCEEDED, f"Deployment {name}: {words}", time=progressing.get("lastUpdateTime")
    )


def _exceeded(deployment: Manifest) -> Manifest | None:
    progressing = _condition((deployment.get("status") or {}).get("conditions"), "Progressing")
    if (
        progressing
        and progressing.get("status") == "False"
        and progressing.get("reason") == "ProgressDeadlineExceeded"
    ):
        return progressing
    return None


def _by_template(pods: Sequence[Manifest]) -> dict[str, list[Manifest]]:
    """Pods grouped by pod-template-hash."""
    groups: dict[str, list[Manifest]] = {}
    for pod in pods:
        template = ((pod.get("metadata") or {}).get("labels") or {}).get(TEMPLATE_HASH)
        if template:
            groups.setdefault(template, []).append(pod)
    return groups


def _new_template(deployment: str, progressing: Manifest) -> str | None:
    """The template hash of the new ReplicaSet, which the Deployment controller names in its
    deadline message (``ReplicaSet "NAME-HASH" has timed out progressing.``). Creation times have
    a one-second resolution, so old and new pods made in the same second cannot tell it."""
    found = _NEW_REPLICA_SET.search(str(progressing.get("message") or ""))
    prefix = f"{deployment}-"
    if found is None or not found.group(1).startswith(prefix):
        return None
    return found.group(1)[len(prefix) :]


def _all_ready(deployment: Manifest) -> bool:
    desired = (deployment.get("spec") or {}).get("replicas")
    ready = (deployment.get("status") or {}).get("readyReplicas") or 0
    return int(ready) >= int(1 if desired is None else desired)


# ----- small readers ----------------------------------------------------------------------------


def _template(deployment: Manifest | None) -> Manifest:
    return (((deployment or {}).get("spec") or {}).get("template") or {}).get("spec") or {}


def _alive(pod: Manifest) -> bool:
    """Counts for the group: not on its way out, not finished (evicted pods stay as Failed)."""
    phase = (pod.get("status") or {}).get("phase")
    return not (pod.get("metadata") or {}).get("deletionTimestamp") and phase not in ("Succeeded", "Failed")


def _name(pod: Manifest) -> str:
    return str((pod.get("metadata") or {}).get("name") or "")


def _created(pod: Manifest) -> str:
    return str((pod.get("metadata") or {}).get("creationTimestamp") or "")


def _condition(conditions: Sequence[Manifest] | None, kind: str) -> Manifest | None:
    return next((c for c in conditions or () if c.get("type") == kind), None)
