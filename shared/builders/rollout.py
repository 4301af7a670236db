"""The rollout strategy of a serving Deployment: how many pods a new pod template adds or takes away.

Kubernetes' default (25 % surge rounded up, 25 % unavailable rounded down) starts new pods before
old ones stop, and below four pods it may stop none first. Pods that hold accelerators would then
need a spare GPU for every rollout, and where the pods fill the accelerators the rollout waits for
one forever; so their default is to replace pods one at a time (maxSurge 0, maxUnavailable 1).
CPU pods keep Kubernetes' default, which is left unset. A user's `rolloutStrategy` replaces the
default field by field.

The strategy lives beside the pod template, not in it: changing it never restarts a pod.
"""

from __future__ import annotations

from shared.api import ModelService, RoleSpec
from shared.builders.meta import Manifest

ACCELERATOR_DEFAULT: dict[str, int | str] = {"maxSurge": 0, "maxUnavailable": 1}
"""Pods with accelerators: replace one at a time, never one more than wanted."""


def uses_accelerators(ms: ModelService) -> bool:
    """Every accelerator type but cpu puts GPUs (or TPUs) into the serving pods."""
    return ms.spec.accelerator.type != "cpu"


def rolling_update(ms: ModelService, role_spec: RoleSpec) -> dict[str, int | str]:
    """The effective `rollingUpdate` fields (empty: Kubernetes' defaults)."""
    fields = dict(ACCELERATOR_DEFAULT) if uses_accelerators(ms) else {}
    chosen = role_spec.rollout_strategy
    if chosen is not None:
        if chosen.max_surge is not None:
            fields["maxSurge"] = chosen.max_surge
        if chosen.max_unavailable is not None:
            fields["maxUnavailable"] = chosen.max_unavailable
    return fields


def build_strategy(ms: ModelService, role_spec: RoleSpec) -> Manifest | None:
    """`spec.strategy` of the Deployment; None leaves Kubernetes' default in place."""
    fields = rolling_update(ms, role_spec)
    if not fields:
        return None
    return {"type": "RollingUpdate", "rollingUpdate": fields}
