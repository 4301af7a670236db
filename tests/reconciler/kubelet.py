"""Playing the kubelet for pods KWOK leaves alone: Pod statuses written as a kubelet writes them.

A pod template annotated ``kwok.x-k8s.io/status: custom`` (``CUSTOM``, through the ModelService's
``spec.decode.annotations``) gives pods the real scheduler binds to a fake node but whose status
no fake kubelet touches. ``Kubelet.write`` then puts a status on such a pod through the
``pods/status`` subresource, with the conditions, container states and messages a kubelet reports
for that situation (the helpers below build them).

No kubelet confirms the deletion of such a pod either, so a deleted one would stay Terminating on
its node, holding its GPUs for the rest of the session. ``Kubelet.close`` deletes the test's
namespace (no new pods can be made in it then) and force-deletes every pod left in it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from testbed.controlplane import ApiError
from tests.reconciler.harness import wait_for
from tests.support.cluster import Cluster

Manifest = dict[str, Any]
CUSTOM = {"kwok.x-k8s.io/status": "custom"}
"""Pod template annotation: KWOK leaves the pod's status to the test."""
T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def stamp(seconds: float = 0) -> str:
    """An RFC 3339 time ``seconds`` after a fixed moment (statuses carry times, tests compare them)."""
    return (T0 + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def waiting(name: str, image: str, reason: str, message: str = "", **fields: Any) -> Manifest:
    """A container status waiting for ``reason`` (ImagePullBackOff, CrashLoopBackOff ...)."""
    state: Manifest = {"reason": reason}
    if message:
        state["message"] = message
    return _container(name, image, {"waiting": state}, **fields)


def running(name: str, image: str, since: str, *, started: bool, ready: bool, **fields: Any) -> Manifest:
    return _container(name, image, {"running": {"startedAt": since}}, started=started, ready=ready, **fields)


def terminated(exit_code: int, reason: str, message: str = "", finished: str = "") -> Manifest:
    """A ``terminated`` state (for ``state`` or ``lastState``)."""
    state: Manifest = {
        "exitCode": exit_code,
        "reason": reason,
        "startedAt": stamp(0),
        "finishedAt": finished or stamp(60),
    }
    if message:
        state["message"] = message
    return {"terminated": state}


def _container(name: str, image: str, state: Manifest, **fields: Any) -> Manifest:
    status: Manifest = {
        "name": name,
        "image": image,
        "imageID": "",
        "ready": False,
        "restartCount": 0,
        "started": False,
        "state": state,
        "lastState": {},
    }
    status.update(fields)
    return status


def pod_status(
    pod: Manifest,
    *,
    init: list[Manifest] | None = None,
    containers: list[Manifest] | None = None,
    phase: str = "Pending",
) -> Manifest:
    """The whole status a kubelet reports for ``pod`` with these container states; the scheduler's
    PodScheduled condition is kept."""
    init = init or []
    containers = containers or []
    unready_init = [c["name"] for c in init if "terminated" not in c["state"] or c.get("restartCount")]
    unready = [c["name"] for c in containers if not c.get("ready")]
    scheduled = [c for c in pod["status"].get("conditions") or () if c["type"] == "PodScheduled"]
    conditions = [
        _condition("PodReadyToStartContainers", True),
        _condition("Initialized", not unready_init, "ContainersNotInitialized", unready_init, "incomplete"),
        _condition("Ready", not unready, "ContainersNotReady", unready, "unready"),
        _condition("ContainersReady", not unready, "ContainersNotReady", unready, "unready"),
        *scheduled,
    ]
    status: Manifest = {
        "phase": phase,
        "conditions": conditions,
        "hostIP": "10.240.0.1",
        "podIP": "10.244.0.7",
        "startTime": stamp(0),
        "qosClass": "BestEffort",
        "containerStatuses": containers,
    }
    if init:
        status["initContainerStatuses"] = init
    return status


def _condition(
    kind: str, ok: bool, reason: str = "", names: list[str] | None = None, what: str = ""
) -> Manifest:
    condition: Manifest = {"type": kind, "status": "True" if ok else "False", "lastTransitionTime": stamp(0)}
    if not ok:
        condition["reason"] = reason
        condition["message"] = f"containers with {what} status: [{' '.join(names or [])}]"
    return condition


class Kubelet:
    """Writes statuses onto the test's custom pods; removes every pod of the namespace at the end."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    def pods(self, deployment: str) -> list[Manifest]:
        """The live pods of ``deployment`` (ReplicaSets name their pods after it), oldest first."""
        found = [
            p
            for p in self.cluster.list("v1", "Pod")
            if p["metadata"]["name"].startswith(f"{deployment}-")
            and not p["metadata"].get("deletionTimestamp")
        ]
        return sorted(found, key=lambda p: (p["metadata"]["creationTimestamp"], p["metadata"]["name"]))

    async def scheduled_pod(self, deployment: str, timeout: float = 30.0) -> Manifest:
        """A pod of ``deployment`` the scheduler has bound to a node."""
        pods: list[Manifest] = await wait_for(
            lambda: [p for p in self.pods(deployment) if p["spec"].get("nodeName")],
            timeout,
            f"a scheduled pod of {deployment}",
        )
        return pods[0]

    async def write(self, pod: Manifest, status: Manifest) -> Manifest:
        """Replace the pod's status (``pods/status``), as the kubelet's status manager does."""
        path = f"/api/v1/namespaces/{self.cluster.namespace}/pods/{pod['metadata']['name']}/status"
        live = self.cluster.get("v1", "Pod", pod["metadata"]["name"])
        assert live is not None, f"pod {pod['metadata']['name']} is gone"
        return await self.cluster.request("PUT", path, {**live, "status": status})

    async def close(self, timeout: float = 30.0) -> None:
        namespace = self.cluster.namespace
        await self.cluster.request("DELETE", f"/api/v1/namespaces/{namespace}")

        async def none_left() -> bool:
            left = self.cluster.list("v1", "Pod")
            for pod in left:
                path = f"/api/v1/namespaces/{namespace}/pods/{pod['metadata']['name']}?gracePeriodSeconds=0"
                try:
                    await self.cluster.request("DELETE", path)
                except ApiError as e:
                    if e.code != 404:  # gone meanwhile is what is wanted
                        raise
            return not left

        await wait_for(none_left, timeout, f"every pod of {namespace} removed")
