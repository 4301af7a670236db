"""The benchmark as the kubelet of the decode pods, for runs with thousands of them.

KWOK moves each pod through its stages with several status writes (init containers, containers
started, ready); with 10,000 pods on two shared cores it fell far behind (after 20 minutes 1,400
pods were Running). Decode pods annotated ``kwok.x-k8s.io/status: custom`` are left alone by KWOK;
once the real scheduler has bound one, ``play_kubelet`` writes the status a kubelet reports for a
pod that started and became ready (init containers completed, containers running, started and
ready, the usual conditions) in one ``pods/status`` write. The reconciler then caches pods shaped
as in a cluster. EPP pods carry no annotation and KWOK runs them as before.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import aiohttp

CUSTOM_STATUS = {"kwok.x-k8s.io/status": "custom"}
Manifest = dict[str, Any]


def ready_status(pod: Manifest, now: str) -> Manifest:
    """The status a kubelet writes for ``pod`` once it is running and ready."""
    spec = pod["spec"]
    scheduled = [c for c in (pod.get("status") or {}).get("conditions") or () if c["type"] == "PodScheduled"]
    conditions = [
        {"type": kind, "status": "True", "lastProbeTime": None, "lastTransitionTime": now}
        for kind in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady")
    ]
    return {
        "phase": "Running",
        "conditions": [*conditions, *scheduled],
        "hostIP": "10.240.0.1",
        "hostIPs": [{"ip": "10.240.0.1"}],
        "podIP": "10.244.0.7",
        "podIPs": [{"ip": "10.244.0.7"}],
        "startTime": now,
        "qosClass": "BestEffort",
        "initContainerStatuses": [
            {
                "name": c["name"],
                "image": c["image"],
                "imageID": f"{c['image']}@sha256:{'0' * 64}",
                "containerID": f"containerd://{'1' * 64}",
                "ready": True,
                "started": False,
                "restartCount": 0,
                "state": {
                    "terminated": {
                        "exitCode": 0,
                        "reason": "Completed",
                        "startedAt": now,
                        "finishedAt": now,
                        "containerID": f"containerd://{'1' * 64}",
                    }
                },
                "lastState": {},
            }
            for c in spec.get("initContainers") or ()
        ],
        "containerStatuses": [
            {
                "name": c["name"],
                "image": c["image"],
                "imageID": f"{c['image']}@sha256:{'0' * 64}",
                "containerID": f"containerd://{'2' * 64}",
                "ready": True,
                "started": True,
                "restartCount": 0,
                "state": {"running": {"startedAt": now}},
                "lastState": {},
            }
            for c in spec["containers"]
        ],
    }


def _wants_status(pod: Manifest) -> bool:
    annotations = pod["metadata"].get("annotations") or {}
    custom = all(annotations.get(k) == v for k, v in CUSTOM_STATUS.items())
    return (
        custom
        and bool(pod["spec"].get("nodeName"))
        and not (pod.get("status") or {}).get("containerStatuses")
    )


async def play_kubelet(http: aiohttp.ClientSession, url: str, namespace: str, workers: int = 16) -> None:
    """Until cancelled: every scheduled pod of ``namespace`` annotated ``CUSTOM_STATUS`` gets its
    ready status once. Lists, then watches from the list; lists again when the watch ends."""
    base = f"{url}/api/v1/namespaces/{namespace}/pods"
    todo: asyncio.Queue[Manifest] = asyncio.Queue()
    queued: set[str] = set()

    def offer(pod: Manifest) -> None:
        name = pod["metadata"]["name"]
        if name not in queued and _wants_status(pod):
            queued.add(name)
            todo.put_nowait(pod)

    async def writer() -> None:
        while True:
            pod = await todo.get()
            now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            body = {**pod, "status": ready_status(pod, now)}
            async with http.put(f"{base}/{pod['metadata']['name']}/status", json=body) as response:
                if response.status not in (200, 404, 409):  # gone, or changed since: it is seen again
                    raise RuntimeError(f"pod status write: {response.status} {await response.text()}")
                if response.status == 409:
                    queued.discard(pod["metadata"]["name"])

    tasks = [asyncio.create_task(writer()) for _ in range(workers)]
    try:
        while True:
            async with http.get(base) as response:
                listed = await response.json()
            for pod in listed["items"]:
                offer(pod)
            params = {
                "watch": "1",
                "resourceVersion": listed["metadata"]["resourceVersion"],
                "timeoutSeconds": "60",
            }
            async with http.get(base, params=params, timeout=None) as response:
                async for line in response.content:
                    event = json.loads(line)
                    if event["type"] in ("ADDED", "MODIFIED"):
                        offer(event["object"])
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
