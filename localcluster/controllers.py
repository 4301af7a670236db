"""Simulated workload controllers: Deployment status and ServiceAccount token Secrets.

No pods run here, so a Deployment never becomes ready on its own. The Deployment controller plays
a rollout in two steps, each after a configurable delay: first the pods exist but are not ready
(replicas and updatedReplicas set, Available False, Progressing True with reason
ReplicaSetUpdated), then the status a healthy rollout ends in (ready/available counts,
observedGeneration, Available and Progressing conditions). Annotations on a Deployment simulate
trouble:

* `localcluster.otterscale.io/simulate: progress-deadline-exceeded` - Progressing=False with
  reason ProgressDeadlineExceeded and no ready replicas;
* `localcluster.otterscale.io/simulate: replica-failure` - a ReplicaFailure=True condition
  (reason FailedCreate) and no ready replicas;
* `localcluster.otterscale.io/ready-replicas: "N"` - only N replicas become ready.

The token controller fills `data.token` (and `ca.crt`, `namespace`) of
`kubernetes.io/service-account-token` Secrets once their ServiceAccount exists.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any

from localcluster import meta
from localcluster.operations import Operations, Options, Target
from localcluster.store import DELETED, Event, ObjKey, key_of
from localcluster.workers import KeyedWorker

Manifest = dict[str, Any]
SIMULATE = "localcluster.otterscale.io/simulate"
READY_REPLICAS = "localcluster.otterscale.io/ready-replicas"
DEPLOYMENTS = ("apps", "deployments")
SECRETS = ("", "secrets")
SERVICE_ACCOUNTS = ("", "serviceaccounts")
TOKEN_TYPE = "kubernetes.io/service-account-token"
SA_NAME = "kubernetes.io/service-account.name"
CONTROLLER_USER: Manifest = {
    "username": "system:serviceaccount:kube-system:deployment-controller",
    "groups": ["system:serviceaccounts", "system:authenticated"],
}


def _condition(
    kind: str, status: str, reason: str, message: str, now: str, old: dict[str, Manifest]
) -> Manifest:
    previous = old.get(kind, {})
    since = previous.get("lastTransitionTime", now) if previous.get("status") == status else now
    updated = previous.get("lastUpdateTime", now) if previous.get("reason") == reason else now
    return {
        "type": kind,
        "status": status,
        "lastUpdateTime": updated,
        "lastTransitionTime": since,
        "reason": reason,
        "message": message,
    }


def deployment_status(deployment: Manifest, now: str) -> Manifest:
    """The status a finished rollout (or the simulated failure) reports."""
    spec, obj_meta = deployment.get("spec") or {}, deployment["metadata"]
    annotations = obj_meta.get("annotations") or {}
    replicas = int(spec.get("replicas", 1) or 0)
    mode = annotations.get(SIMULATE, "")
    ready = 0 if mode in ("progress-deadline-exceeded", "replica-failure") else replicas
    if READY_REPLICAS in annotations and annotations[READY_REPLICAS].isdigit():
        ready = min(ready, int(annotations[READY_REPLICAS]))
    template_hash = hashlib.sha256(repr(spec.get("template")).encode()).hexdigest()[:10]
    rs = f'ReplicaSet "{obj_meta["name"]}-{template_hash}"'
    old = {c.get("type", ""): c for c in (deployment.get("status") or {}).get("conditions") or ()}
    available = ready >= replicas - _max_unavailable(spec, replicas)
    conditions = [
        _condition(
            "Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.", now, old
        )
        if available
        else _condition(
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
            now,
            old,
        )
    ]
    if mode == "progress-deadline-exceeded":
        conditions.append(
            _condition(
                "Progressing",
                "False",
                "ProgressDeadlineExceeded",
                f"{rs} has timed out progressing.",
                now,
                old,
            )
        )
    else:
        conditions.append(
            _condition(
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                f"{rs} has successfully progressed.",
                now,
                old,
            )
        )
    if mode == "replica-failure":
        conditions.append(
            _condition(
                "ReplicaFailure",
                "True",
                "FailedCreate",
                f'pods "{obj_meta["name"]}-{template_hash}-" is forbidden: simulated failure',
                now,
                old,
            )
        )
    status: Manifest = {"observedGeneration": obj_meta.get("generation", 1)}
    if replicas:
        status.update(replicas=replicas, updatedReplicas=replicas)
        if ready:
            status.update(readyReplicas=ready, availableReplicas=ready)
        if replicas - ready:
            status["unavailableReplicas"] = replicas - ready
    status["conditions"] = conditions
    return status


def _starting(current: Manifest, final: Manifest) -> bool:
    """True when the final status would make pods ready that the live status does not show yet."""
    live = current.get("status") or {}
    rolled = live.get("observedGeneration") == final.get("observedGeneration") and live.get(
        "updatedReplicas"
    ) == final.get("updatedReplicas")
    return not rolled and bool(final.get("readyReplicas"))


def starting_status(final: Manifest) -> Manifest:
    """``final`` as it reads while the new pods are created but not ready."""
    status = {k: v for k, v in final.items() if k not in ("readyReplicas", "availableReplicas")}
    status["unavailableReplicas"] = final.get("replicas", 0)
    conditions: list[Manifest] = []
    for condition in final["conditions"]:
        if condition["type"] == "Available":
            condition = {
                **condition,
                "status": "False",
                "reason": "MinimumReplicasUnavailable",
                "message": "Deployment does not have minimum availability.",
            }
        elif condition["type"] == "Progressing":
            condition = {**condition, "reason": "ReplicaSetUpdated", "message": "ReplicaSet is progressing."}
        conditions.append(condition)
    status["conditions"] = conditions
    return status


def _max_unavailable(spec: Manifest, replicas: int) -> int:
    value = ((spec.get("strategy") or {}).get("rollingUpdate") or {}).get("maxUnavailable", "25%")
    if isinstance(value, str) and value.endswith("%") and value[:-1].isdigit():
        return int(replicas * int(value[:-1]) / 100)
    return int(value) if isinstance(value, int) else 0


class DeploymentController(KeyedWorker):
    name = "deployment-controller"

    def __init__(self, ops: Operations, delay: float = 0.0) -> None:
        super().__init__()
        self.ops = ops
        self.delay = delay

    def start(self) -> None:
        super().start()
        self.ops.store.listen(self.on_event)
        for obj in self.ops.store.items(DEPLOYMENTS):
            self.enqueue_after(self.delay, key_of(obj))

    async def stop(self) -> None:
        self.ops.store.unlisten(self.on_event)
        await super().stop()

    def on_event(self, event: Event) -> None:
        if event.res == DEPLOYMENTS and event.type != DELETED:
            self.enqueue_after(self.delay, key_of(event.obj))

    async def process(self, key: ObjKey) -> None:
        namespace, name = key
        current = self.ops.store.get(DEPLOYMENTS, namespace, name)
        rt = self.ops.registry.get(DEPLOYMENTS)
        if current is None or rt is None or current["metadata"].get("deletionTimestamp"):
            return
        status = deployment_status(current, self.ops.clock())
        if status == current.get("status"):
            return
        if _starting(current, status):
            # First step of the rollout: the pods exist, none is ready yet; the final status follows.
            status = starting_status(status)
            self.enqueue_after(self.delay, key)
        updated = meta.clone(current)
        updated["status"] = status
        await self.ops.update(
            Target(rt, "v1", namespace, name, "status"), updated, Options(user=CONTROLLER_USER)
        )


class TokenController(KeyedWorker):
    name = "token-controller"

    def __init__(self, ops: Operations) -> None:
        super().__init__()
        self.ops = ops

    def start(self) -> None:
        super().start()
        self.ops.store.listen(self.on_event)

    async def stop(self) -> None:
        self.ops.store.unlisten(self.on_event)
        await super().stop()

    def on_event(self, event: Event) -> None:
        if event.type == DELETED:
            return
        if event.res == SECRETS and event.obj.get("type") == TOKEN_TYPE:
            self.enqueue(key_of(event.obj))
        elif event.res == SERVICE_ACCOUNTS:
            namespace = event.obj["metadata"].get("namespace", "")
            for secret in self.ops.store.items(SECRETS, namespace):
                if secret.get("type") == TOKEN_TYPE:
                    self.enqueue(key_of(secret))

    async def process(self, key: ObjKey) -> None:
        namespace, name = key
        secret = self.ops.store.get(SECRETS, namespace, name)
        rt = self.ops.registry.get(SECRETS)
        if secret is None or rt is None or (secret.get("data") or {}).get("token"):
            return
        account = ((secret["metadata"].get("annotations") or {}).get(SA_NAME)) or ""
        if self.ops.store.get(SERVICE_ACCOUNTS, namespace, account) is None:
            return  # filled in once the ServiceAccount appears
        updated = meta.clone(secret)
        data = updated.setdefault("data", {})
        data["token"] = base64.b64encode(secrets.token_urlsafe(48).encode()).decode()
        data["namespace"] = base64.b64encode(namespace.encode()).decode()
        data["ca.crt"] = base64.b64encode(
            b"-----BEGIN CERTIFICATE-----\nlocalcluster\n-----END CERTIFICATE-----\n"
        ).decode()
        await self.ops.update(Target(rt, "v1", namespace, name), updated, Options(user=CONTROLLER_USER))
