"""Why a pod group is not ready: each pod status a scheduler or kubelet writes, and each Deployment
condition, read into a reason and a message quoting the pod's own words.

Pods are built with the kubelet helpers the control-plane tests write with, and read as the
reconciler caches them (``slim_pod``), so these tables check what the status will really see.
"""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.pods import slim_pod
from shared.diagnosis import (
    Finding,
    GroupDiagnosis,
    accelerators,
    diagnose_group,
    diagnose_pod,
    model_reference,
)
from tests.reconciler.kubelet import pod_status, running, stamp, terminated, waiting

VLLM = "ghcr.io/llm-d/llm-d-cuda:v0.5.1"
KIT = "ghcr.io/kitops-ml/kitops:v1.11.0"
MODEL = "registry.example.com/models/qwen3:0.6b"
SCHEDULER_SAYS = (
    "0/6 nodes are available: 6 Insufficient nvidia.com/gpu. no new claims to deallocate, "
    "preemption: 0/6 nodes are available: 6 Preemption is not helpful for scheduling."
)


def _completed_unpack() -> dict[str, Any]:
    status = waiting("model-unpack", KIT, "PodInitializing")
    status["state"] = terminated(0, "Completed")
    return status


def _deployment(
    name: str = "qwen-decode",
    replicas: int = 1,
    ready: int = 0,
    conditions: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    limits = {"nvidia.com/gpu": "16", "memory": "64Gi"}
    template = {
        "initContainers": [
            {"name": "model-unpack", "image": KIT, "env": [{"name": "OCI_MODEL_IMAGE", "value": MODEL}]}
        ],
        "containers": [{"name": "vllm", "image": VLLM, "resources": {"limits": limits, "requests": limits}}],
    }
    status: dict[str, Any] = {"readyReplicas": ready, "conditions": conditions or []}
    return {
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "template": {"spec": template}},
        "status": status,
    }


def _pod(
    name: str = "qwen-decode-5d8f-a",
    *,
    template: str = "5d8f",
    created: float = 0,
    scheduled: dict[str, Any] | None = None,
    init: list[dict[str, Any]] | None = None,
    containers: list[dict[str, Any]] | None = None,
    phase: str = "Pending",
    deleting: bool = False,
) -> dict[str, Any]:
    condition = scheduled or {"type": "PodScheduled", "status": "True", "lastTransitionTime": stamp(0)}
    pod: dict[str, Any] = {
        "metadata": {
            "name": name,
            "namespace": "llm",
            "resourceVersion": "1",
            "creationTimestamp": stamp(created),
            "labels": {"pod-template-hash": template},
        },
        "status": {"conditions": [condition]},
    }
    if deleting:
        pod["metadata"]["deletionTimestamp"] = stamp(99)
    if init is not None or containers is not None:
        pod["status"] = pod_status(pod, init=init, containers=containers, phase=phase)
    return slim_pod(pod)


UNSCHEDULED = {
    "type": "PodScheduled",
    "status": "False",
    "reason": "Unschedulable",
    "message": SCHEDULER_SAYS,
    "lastTransitionTime": stamp(5),
}
OOM = waiting(
    "vllm", VLLM, "CrashLoopBackOff", "back-off 40s restarting failed container=vllm pod=p", restartCount=4
)
OOM["lastState"] = terminated(137, "OOMKilled", finished=stamp(30))
PULL_ERROR = (
    f'Back-off pulling image "{VLLM}": ErrImagePull: failed to pull and unpack image: 401 Unauthorized'
)
LOADING_SINCE = f"vllm loading the model since {stamp(50)} (startup probe not passed yet)"
UNPACK_FAILED = "Error: failed to resolve reference registry.example.com/models/qwen3:0.6b: not found"


def _after_crash(status: dict[str, Any], last: dict[str, Any], restarts: int) -> dict[str, Any]:
    return status | {"lastState": last, "restartCount": restarts}


POD_CASES: dict[str, tuple[dict[str, Any], Finding | None]] = {
    "unschedulable": (
        _pod(scheduled=UNSCHEDULED),
        Finding(
            "Unschedulable",
            f"pod qwen-decode-5d8f-a (asks for 16 nvidia.com/gpu) cannot be scheduled: {SCHEDULER_SAYS}",
            "qwen-decode-5d8f-a",
            stamp(5),
        ),
    ),
    "engine-image-pull": (
        _pod(
            init=[_completed_unpack()],
            containers=[
                waiting(
                    "vllm",
                    VLLM,
                    "ImagePullBackOff",
                    PULL_ERROR,
                )
            ],
        ),
        Finding(
            "ImagePullFailed",
            f"pod qwen-decode-5d8f-a: container vllm cannot pull image {VLLM}: "
            f"ImagePullBackOff: {PULL_ERROR}",
            "qwen-decode-5d8f-a",
        ),
    ),
    "kit-image-pull": (
        _pod(
            init=[
                waiting("model-unpack", KIT, "ErrImagePull", "rpc error: code = NotFound desc = not found")
            ],
            containers=[waiting("vllm", VLLM, "PodInitializing")],
        ),
        Finding(
            "ImagePullFailed",
            f"pod qwen-decode-5d8f-a: container model-unpack cannot pull image {KIT}: ErrImagePull: "
            "rpc error: code = NotFound desc = not found",
            "qwen-decode-5d8f-a",
        ),
    ),
    "unpack-failed": (
        _pod(
            init=[
                waiting("model-unpack", KIT, "PodInitializing")
                | {"state": terminated(1, "Error", UNPACK_FAILED, finished=stamp(20))}
            ],
            containers=[waiting("vllm", VLLM, "PodInitializing")],
        ),
        Finding(
            "ModelUnpackFailed",
            f"pod qwen-decode-5d8f-a: model-unpack exited with code 1 unpacking {MODEL}: {UNPACK_FAILED}",
            "qwen-decode-5d8f-a",
            stamp(20),
        ),
    ),
    "unpack-crash-loop": (
        _pod(
            init=[
                _after_crash(
                    waiting("model-unpack", KIT, "CrashLoopBackOff", "back-off 20s"),
                    terminated(1, "Error", finished=stamp(40)),
                    3,
                )
            ],
            containers=[waiting("vllm", VLLM, "PodInitializing")],
        ),
        Finding(
            "ModelUnpackFailed",
            f"pod qwen-decode-5d8f-a: model-unpack exited with code 1 unpacking {MODEL}, restarted 3 times: "
            "no termination message",
            "qwen-decode-5d8f-a",
            stamp(40),
        ),
    ),
    "unpack-failed-once-then-done": (
        _pod(
            init=[_after_crash(_completed_unpack(), terminated(1, "Error"), 1)],
            containers=[running("vllm", VLLM, stamp(50), started=False, ready=False)],
        ),
        Finding(
            "ModelLoading",
            f"pod qwen-decode-5d8f-a: {LOADING_SINCE}",
            "qwen-decode-5d8f-a",
            stamp(50),
        ),
    ),
    "engine-out-of-memory": (
        _pod(init=[_completed_unpack()], containers=[OOM], phase="Running"),
        Finding(
            "EngineCrashLoop",
            "pod qwen-decode-5d8f-a: vllm exited with OOMKilled (exit code 137), restarted 4 times",
            "qwen-decode-5d8f-a",
            stamp(30),
        ),
    ),
    "engine-bad-arguments": (
        _pod(
            init=[_completed_unpack()],
            containers=[
                waiting("vllm", VLLM, "ContainerCreating")
                | {
                    "state": terminated(
                        2, "Error", "vllm: error: unrecognized arguments: --bogus --api-key sk-x"
                    )
                }
            ],
            phase="Running",
        ),
        Finding(
            "EngineCrashLoop",
            "pod qwen-decode-5d8f-a: vllm exited with Error (exit code 2): "
            "vllm: error: unrecognized arguments: --bogus --api-key ***",
            "qwen-decode-5d8f-a",
            stamp(60),
        ),
    ),
    "engine-running-again-after-a-crash": (
        _pod(
            init=[_completed_unpack()],
            containers=[
                _after_crash(
                    running("vllm", VLLM, stamp(70), started=False, ready=False),
                    terminated(137, "OOMKilled", finished=stamp(65)),
                    1,
                )
            ],
            phase="Running",
        ),
        Finding(
            "EngineCrashLoop",
            "pod qwen-decode-5d8f-a: vllm exited with OOMKilled (exit code 137), restarted 1 time",
            "qwen-decode-5d8f-a",
            stamp(65),
        ),
    ),
    "model-loading": (
        _pod(
            init=[_completed_unpack()],
            containers=[running("vllm", VLLM, stamp(50), started=False, ready=False)],
            phase="Running",
        ),
        Finding(
            "ModelLoading",
            f"pod qwen-decode-5d8f-a: {LOADING_SINCE}",
            "qwen-decode-5d8f-a",
            stamp(50),
        ),
    ),
    "ready": (
        _pod(
            init=[_completed_unpack()],
            containers=[running("vllm", VLLM, stamp(50), started=True, ready=True)],
            phase="Running",
        ),
        None,
    ),
    "ready-after-a-crash": (
        _pod(
            init=[_completed_unpack()],
            containers=[
                _after_crash(
                    running("vllm", VLLM, stamp(50), started=True, ready=True),
                    terminated(137, "OOMKilled"),
                    1,
                )
            ],
            phase="Running",
        ),
        None,
    ),
    "secret-missing": (
        _pod(
            init=[_completed_unpack()],
            containers=[waiting("vllm", VLLM, "CreateContainerConfigError", 'secret "hf-token" not found')],
        ),
        Finding(
            "ContainerCreateFailed",
            "pod qwen-decode-5d8f-a: container vllm cannot be created: "
            'CreateContainerConfigError: secret "hf-token" not found',
            "qwen-decode-5d8f-a",
        ),
    ),
    "routing-proxy-sidecar-crash": (
        _pod(
            init=[
                _completed_unpack(),
                _after_crash(
                    waiting("routing-proxy", "sidecar:1", "CrashLoopBackOff"),
                    terminated(1, "Error", "bind: address already in use"),
                    2,
                ),
            ],
            containers=[waiting("vllm", VLLM, "PodInitializing")],
        ),
        Finding(
            "CrashLoop",
            "pod qwen-decode-5d8f-a: routing-proxy exited with Error (exit code 1), restarted 2 times: "
            "bind: address already in use",
            "qwen-decode-5d8f-a",
            stamp(60),
        ),
    ),
    "just-scheduled": (_pod(), None),
    "creating-containers": (
        _pod(init=[_completed_unpack()], containers=[waiting("vllm", VLLM, "ContainerCreating")]),
        None,
    ),
}


@pytest.mark.parametrize(("pod", "expected"), POD_CASES.values(), ids=POD_CASES.keys())
def test_each_pod_status_reads_as_its_reason_in_its_own_words(
    pod: dict[str, Any], expected: Finding | None
) -> None:
    assert diagnose_pod(pod, _deployment()) == expected


def test_the_pod_template_says_what_a_pod_asks_for_and_which_model_it_unpacks() -> None:
    assert accelerators(_deployment()) == "16 nvidia.com/gpu"
    assert model_reference(_deployment()) == MODEL
    assert (accelerators(None), model_reference(None)) == ("", "")


DEADLINE = {
    "type": "Progressing",
    "status": "False",
    "reason": "ProgressDeadlineExceeded",
    "message": 'ReplicaSet "qwen-decode-7c9f" has timed out progressing.',
    "lastUpdateTime": stamp(600),
}
QUOTA = {
    "type": "ReplicaFailure",
    "status": "True",
    "reason": "FailedCreate",
    "message": 'pods "qwen-decode-5d8f-x" is forbidden: exceeded quota: gpus',
    "lastUpdateTime": stamp(9),
}
SERVING = _pod(
    "qwen-decode-5d8f-old",
    init=[_completed_unpack()],
    containers=[running("vllm", VLLM, stamp(50), started=True, ready=True)],
    phase="Running",
)
NEW_UNSCHEDULED = _pod("qwen-decode-7c9f-new", template="7c9f", created=100, scheduled=UNSCHEDULED)
UNSCHEDULABLE_NEW = POD_CASES["unschedulable"][1]
assert UNSCHEDULABLE_NEW is not None
BLOCKED = Finding(
    "Unschedulable",
    UNSCHEDULABLE_NEW.message.replace("qwen-decode-5d8f-a", "qwen-decode-7c9f-new"),
    "qwen-decode-7c9f-new",
    stamp(5),
)
LOADING = POD_CASES["model-loading"][0]
CRASHING = POD_CASES["engine-out-of-memory"][0]


STUCK = Finding(
    "RolloutStuck",
    f"Deployment qwen-decode: {DEADLINE['message']}; 1 old and 1 new pods; {BLOCKED.message}",
    "qwen-decode-7c9f-new",
    stamp(600),
)
STUCK_UNNAMED = Finding(
    "RolloutStuck",
    "Deployment qwen-decode: Deployment qwen-decode has timed out progressing.; "
    f"1 old and 1 new pods; {BLOCKED.message}",
    "qwen-decode-7c9f-new",
    stamp(600),
)
# An old pod whose name sorts after the new one's, made in the same second: creation times (one
# second apart at best) cannot tell which template is new; the deadline message names it.
SAME_SECOND_OLD = SERVING["metadata"] | {
    "name": "qwen-decode-zzzz-old",
    "labels": {"pod-template-hash": "zzzz"},
    "creationTimestamp": stamp(100),
}


def _renamed(pod: dict[str, Any], name: str) -> dict[str, Any]:
    return pod | {"metadata": pod["metadata"] | {"name": name}}


def _finding(case: str, pod: str) -> Finding:
    found = POD_CASES[case][1]
    assert found is not None
    return Finding(found.reason, found.message.replace("qwen-decode-5d8f-a", pod), pod, found.time)


GROUP_CASES: dict[str, tuple[dict[str, Any] | None, list[dict[str, Any]], GroupDiagnosis]] = {
    "no-deployment": (None, [LOADING], GroupDiagnosis(None, None)),
    "ready": (_deployment(ready=1), [SERVING], GroupDiagnosis(None, None)),
    "ready-with-a-new-pod-that-cannot-start": (
        _deployment(ready=1),
        [SERVING, NEW_UNSCHEDULED],
        GroupDiagnosis(None, BLOCKED),
    ),
    "a-failure-before-loading": (
        _deployment(replicas=2),
        [_renamed(LOADING, "qwen-decode-5d8f-a"), _renamed(CRASHING, "qwen-decode-5d8f-b")],
        GroupDiagnosis(
            _finding("engine-out-of-memory", "qwen-decode-5d8f-b"),
            _finding("engine-out-of-memory", "qwen-decode-5d8f-b"),
        ),
    ),
    "the-first-offending-pod-by-name": (
        _deployment(replicas=2),
        [_renamed(CRASHING, "qwen-decode-5d8f-z"), _renamed(CRASHING, "qwen-decode-5d8f-b")],
        GroupDiagnosis(
            _finding("engine-out-of-memory", "qwen-decode-5d8f-b"),
            _finding("engine-out-of-memory", "qwen-decode-5d8f-b"),
        ),
    ),
    "loading": (
        _deployment(),
        [LOADING],
        GroupDiagnosis(_finding("model-loading", "qwen-decode-5d8f-a"), None),
    ),
    "terminating-pods-say-nothing": (
        _deployment(),
        [_pod(scheduled=UNSCHEDULED, deleting=True)],
        GroupDiagnosis(None, None),
    ),
    "pods-cannot-be-created": (
        _deployment(conditions=[QUOTA]),
        [],
        GroupDiagnosis(
            Finding("ReplicaFailure", f"Deployment qwen-decode: {QUOTA['message']}", time=stamp(9)),
            Finding("ReplicaFailure", f"Deployment qwen-decode: {QUOTA['message']}", time=stamp(9)),
        ),
    ),
    "rollout-stuck": (
        _deployment(ready=1, conditions=[DEADLINE]),
        [SERVING, NEW_UNSCHEDULED],
        GroupDiagnosis(
            Finding(
                "RolloutStuck",
                f"Deployment qwen-decode: {DEADLINE['message']}; 1 old and 1 new pods; {BLOCKED.message}",
                "qwen-decode-7c9f-new",
                stamp(600),
            ),
            Finding(
                "RolloutStuck",
                f"Deployment qwen-decode: {DEADLINE['message']}; 1 old and 1 new pods; {BLOCKED.message}",
                "qwen-decode-7c9f-new",
                stamp(600),
            ),
        ),
    ),
    "rollout-stuck-with-old-and-new-pods-made-in-the-same-second": (
        _deployment(ready=1, conditions=[DEADLINE]),
        [_renamed(SERVING, "qwen-decode-zzzz-old") | {"metadata": SAME_SECOND_OLD}, NEW_UNSCHEDULED],
        GroupDiagnosis(STUCK, STUCK),
    ),
    "rollout-stuck-without-the-replica-set-named-takes-the-newest-pods": (
        _deployment(
            ready=1, conditions=[DEADLINE | {"message": "Deployment qwen-decode has timed out progressing."}]
        ),
        [SERVING, NEW_UNSCHEDULED],
        GroupDiagnosis(STUCK_UNNAMED, STUCK_UNNAMED),
    ),
    "deadline-of-a-first-rollout-with-a-pod-failure": (
        _deployment(conditions=[DEADLINE]),
        [CRASHING],
        GroupDiagnosis(
            _finding("engine-out-of-memory", "qwen-decode-5d8f-a"),
            _finding("engine-out-of-memory", "qwen-decode-5d8f-a"),
        ),
    ),
    "deadline-of-a-first-rollout-still-loading": (
        _deployment(conditions=[DEADLINE]),
        [LOADING],
        GroupDiagnosis(
            Finding(
                "ProgressDeadlineExceeded", f"Deployment qwen-decode: {DEADLINE['message']}", time=stamp(600)
            ),
            Finding(
                "ProgressDeadlineExceeded", f"Deployment qwen-decode: {DEADLINE['message']}", time=stamp(600)
            ),
        ),
    ),
}


@pytest.mark.parametrize(("deployment", "pods", "expected"), GROUP_CASES.values(), ids=GROUP_CASES.keys())
def test_a_group_reads_as_its_deployment_and_its_first_offending_pod(
    deployment: dict[str, Any] | None, pods: list[dict[str, Any]], expected: GroupDiagnosis
) -> None:
    assert diagnose_group(deployment, pods) == expected
