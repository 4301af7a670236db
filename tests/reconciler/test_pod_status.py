"""Why a model is not ready, as its ModelService says it, on the real control plane.

Every reason comes about as in a cluster: the real scheduler judges pods that ask for more than a
node has; for the rest the test plays the kubelet on pods KWOK leaves alone (``tests.reconciler.
kubelet``), writing the status a kubelet writes for that situation. Each change shows in the
ModelService's status after the one reconcile the pod's change causes, quoting the pod's words.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from reconciler.pods import POD, slim_pod
from shared.quoting import quote
from tests.reconciler.harness import Running, condition, get, model_service, running_reconciler, wait_for
from tests.reconciler.kubelet import CUSTOM, Kubelet, pod_status, running, stamp, terminated, waiting
from tests.support.cluster import Cluster

Manifest = dict[str, Any]
STEP = 30.0
"""Bound of each wait: pods are scheduled and the reconciler answers in about a second when idle."""
MODEL = "registry.example.com/models/qwen3:0.6b"


def _images(pod: Manifest) -> tuple[str, str]:
    """(kit image, vLLM image) of a serving pod."""
    return pod["spec"]["initContainers"][0]["image"], pod["spec"]["containers"][0]["image"]


def _unpacked(kit: str) -> Manifest:
    return waiting("model-unpack", kit, "PodInitializing") | {"state": terminated(0, "Completed")}


def _engine_image_pull(pod: Manifest) -> Manifest:
    kit, vllm = _images(pod)
    message = (
        f'Back-off pulling image "{vllm}": ErrImagePull: failed to pull and unpack image "{vllm}": '
        "failed to resolve reference: pull access denied, repository does not exist or may require "
        "authorization: server message: insufficient_scope: authorization failed"
    )
    return pod_status(
        pod, init=[_unpacked(kit)], containers=[waiting("vllm", vllm, "ImagePullBackOff", message)]
    )


def _kit_image_pull(pod: Manifest) -> Manifest:
    kit, vllm = _images(pod)
    message = f'rpc error: code = NotFound desc = failed to pull and unpack image "{kit}": not found'
    return pod_status(
        pod,
        init=[waiting("model-unpack", kit, "ErrImagePull", message)],
        containers=[waiting("vllm", vllm, "PodInitializing")],
    )


UNPACK_ERROR = (
    f'Error: failed to pull {MODEL}: failed to resolve reference "{MODEL}": '
    "registry.example.com/models/qwen3:0.6b: not found"
)


def _unpack_failed(pod: Manifest) -> Manifest:
    kit, vllm = _images(pod)
    unpack = waiting("model-unpack", kit, "CrashLoopBackOff", "back-off 20s restarting failed container")
    unpack |= {"restartCount": 2, "lastState": terminated(1, "Error", UNPACK_ERROR, finished=stamp(40))}
    return pod_status(pod, init=[unpack], containers=[waiting("vllm", vllm, "PodInitializing")])


def _out_of_memory(pod: Manifest) -> Manifest:
    kit, vllm = _images(pod)
    engine = waiting("vllm", vllm, "CrashLoopBackOff", "back-off 1m20s restarting failed container=vllm")
    engine |= {"restartCount": 5, "lastState": terminated(137, "OOMKilled", finished=stamp(300))}
    return pod_status(pod, init=[_unpacked(kit)], containers=[engine], phase="Running")


BAD_ARGUMENTS = (
    "vllm serve: error: unrecognized arguments: --max-modl-len 4096 --api-key sk-live-0123456789abcdef"
)


def _bad_arguments(pod: Manifest) -> Manifest:
    kit, vllm = _images(pod)
    engine = waiting("vllm", vllm, "ContainerCreating") | {"state": terminated(2, "Error", BAD_ARGUMENTS)}
    return pod_status(pod, init=[_unpacked(kit)], containers=[engine], phase="Running")


def _secret_missing(pod: Manifest) -> Manifest:
    kit, vllm = _images(pod)
    engine = waiting("vllm", vllm, "CreateContainerConfigError", 'secret "hf-token" not found')
    return pod_status(pod, init=[_unpacked(kit)], containers=[engine])


def _loading(pod: Manifest) -> Manifest:
    kit, vllm = _images(pod)
    engine = running("vllm", vllm, stamp(120), started=False, ready=False)
    return pod_status(pod, init=[_unpacked(kit)], containers=[engine], phase="Running")


def _serving(pod: Manifest) -> Manifest:
    kit, vllm = _images(pod)
    engine = running("vllm", vllm, stamp(120), started=True, ready=True)
    return pod_status(pod, init=[_unpacked(kit)], containers=[engine], phase="Running")


@dataclass(frozen=True)
class Case:
    status: Callable[[Manifest], Manifest]
    reason: str
    words: Callable[[Manifest], list[str]]
    """What the status must quote, given the pod."""
    phase: str = "Failed"


def _waiting_message(status: Manifest, init: bool = False) -> str:
    key = "initContainerStatuses" if init else "containerStatuses"
    return str(status[key][0]["state"]["waiting"]["message"])


CASES = {
    "engine-image-pull": Case(
        _engine_image_pull,
        "ImagePullFailed",
        lambda pod: [
            f"container vllm cannot pull image {_images(pod)[1]}",
            f"ImagePullBackOff: {quote(_waiting_message(_engine_image_pull(pod)))}",
        ],
    ),
    "model-unpack-image-pull": Case(
        _kit_image_pull,
        "ImagePullFailed",
        lambda pod: [
            f"container model-unpack cannot pull image {_images(pod)[0]}",
            _waiting_message(_kit_image_pull(pod), init=True),
        ],
    ),
    "model-unpack-failed": Case(
        _unpack_failed,
        "ModelUnpackFailed",
        lambda pod: [f"model-unpack exited with code 1 unpacking {MODEL}, restarted 2 times: {UNPACK_ERROR}"],
    ),
    "engine-out-of-memory": Case(
        _out_of_memory,
        "EngineCrashLoop",
        lambda pod: ["vllm exited with OOMKilled (exit code 137), restarted 5 times"],
    ),
    "engine-bad-arguments": Case(
        _bad_arguments,
        "EngineCrashLoop",
        lambda pod: [
            "vllm exited with Error (exit code 2): "
            "vllm serve: error: unrecognized arguments: --max-modl-len 4096 --api-key ***"
        ],
    ),
    "secret-missing": Case(
        _secret_missing,
        "ContainerCreateFailed",
        lambda pod: [
            'container vllm cannot be created: CreateContainerConfigError: secret "hf-token" not found'
        ],
    ),
    "model-loading": Case(
        _loading,
        "ModelLoading",
        lambda pod: [
            f"0/1 replicas ready; pod {pod['metadata']['name']}: vllm loading the model since {stamp(120)}"
        ],
        phase="Running",
    ),
}


async def settled(r: Running, cluster: Cluster, kubelet: Kubelet) -> Manifest:
    """The test's decode pod, once it is scheduled and cached and the rest of the ModelService (the
    EPP, which KWOK runs) is ready: from then on only the test's writes change anything."""
    pod = await kubelet.scheduled_pod("qwen-decode")
    await wait_for(
        lambda: r.manager.cache.dependents(POD, cluster.namespace, "qwen-decode"), STEP, "the pod cached"
    )
    await wait_for(
        lambda: (
            condition(get(cluster, "ModelService", "qwen"), "EndpointPickerReady").get("status") == "True"
        ),
        STEP,
        "the endpoint picker ready",
    )
    return pod


async def after_one_reconcile(
    r: Running, cluster: Cluster, change: Callable[[], Awaitable[Manifest]]
) -> Manifest:
    """Make ``change`` (a pod status the kubelet writes; it returns the pod written) with the
    reconciler idle; the ModelService as the reconcile of that change left it.

    The pod's watch event enqueues the ModelService as it is stored in the cache, so once the
    cache holds the written pod and the queue is idle again, that reconcile is done. Exactly one
    status write is allowed for the change.
    """
    await r.idle(STEP)
    r.mark()
    written = await change()
    meta = written["metadata"]

    def delivered() -> bool:
        cached = r.manager.cache.dependents(POD, cluster.namespace, "qwen-decode")
        return any(p["metadata"]["resourceVersion"] == meta["resourceVersion"] for p in cached)

    await wait_for(delivered, STEP, f"the reconciler's cache to hold pod {meta['name']} as written")
    await r.idle(STEP)
    patches = r.since_mark().get(("patch", 200), 0)
    assert patches == 1, f"one status write for one change, not {patches}"
    found = get(cluster, "ModelService", "qwen")
    assert found is not None
    return found


def _warnings(cluster: Cluster) -> list[tuple[str, str]]:
    events = cluster.list("events.k8s.io/v1", "Event")
    return [
        (e["reason"], e["note"])
        for e in events
        if (e.get("regarding") or {}).get("kind") == "ModelService" and e["type"] == "Warning"
    ]


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_a_pod_status_shows_in_the_model_service_after_one_reconcile(
    cluster: Cluster, kubelet: Kubelet, case: Case
) -> None:
    async with running_reconciler(cluster) as r:
        await cluster.create(model_service("qwen", decode={"replicas": 1, "annotations": CUSTOM}))
        pod = await settled(r, cluster, kubelet)
        name = pod["metadata"]["name"]
        ms = await after_one_reconcile(r, cluster, lambda: kubelet.write(pod, case.status(pod)))

    serving, ready = condition(ms, "ServingReady"), condition(ms, "Ready")
    assert (serving["status"], serving["reason"]) == ("False", case.reason)
    assert (ready["reason"], ready["message"]) == (case.reason, serving["message"])
    assert ms["status"]["phase"] == case.phase
    assert f"pod {name}" in serving["message"]
    for words in case.words(pod):
        assert words in serving["message"]
    assert "sk-live" not in str(ms["status"])
    if case.phase == "Failed":
        failure = ms["status"]["lastFailure"]["decode"]
        assert (failure["reason"], failure["message"], failure["pod"]) == (
            case.reason,
            serving["message"],
            name,
        )
        await wait_for(
            lambda: (case.reason, serving["message"]) in _warnings(cluster), STEP, "a Warning Event"
        )
    else:
        assert "lastFailure" not in ms["status"]


async def test_a_loading_model_turns_ready_only_when_its_replica_is(
    cluster: Cluster, kubelet: Kubelet
) -> None:
    async with running_reconciler(cluster) as r:
        await cluster.create(model_service("qwen", decode={"replicas": 1, "annotations": CUSTOM}))
        pod = await settled(r, cluster, kubelet)
        ms = await after_one_reconcile(r, cluster, lambda: kubelet.write(pod, _loading(pod)))
        assert condition(ms, "Ready")["reason"] == "ModelLoading"
        await kubelet.write(pod, _serving(pod))

        def ready() -> Manifest | None:
            found = get(cluster, "ModelService", "qwen")
            return found if condition(found, "Ready").get("status") == "True" else None

        ms = await wait_for(ready, STEP, "Ready")
        await r.idle(STEP)  # the Ready Event follows the status write
        r.mark()
        await r.resync()
        assert r.since_mark() == {}, "a resync over the ready pod writes nothing"
    assert (ms["status"]["phase"], ms["status"]["decodeReady"]) == ("Ready", 1)
    assert condition(ms, "ServingReady")["reason"] == "AllReplicasReady"


async def test_a_model_too_big_for_any_node_quotes_the_scheduler(cluster: Cluster) -> None:
    big = model_service("qwen", decode={"replicas": 1, "parallelism": {"tensor": 16}})
    async with running_reconciler(cluster):
        await cluster.create(big)

        def judged() -> Manifest | None:
            found = get(cluster, "ModelService", "qwen")
            return found if condition(found, "ServingReady").get("reason") == "Unschedulable" else None

        ms = await wait_for(judged, STEP, "the scheduler's verdict in the status")
    [pod] = [p for p in cluster.list("v1", "Pod") if p["metadata"]["name"].startswith("qwen-decode-")]
    scheduled = next(c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled")
    serving = condition(ms, "ServingReady")
    assert serving["message"] == (
        f"pod {pod['metadata']['name']} (asks for 16 nvidia.com/gpu) cannot be scheduled: "
        f"{quote(scheduled['message'])}"
    )
    assert "Insufficient nvidia.com/gpu" in serving["message"]
    assert ms["status"]["phase"] == "Failed"
    assert ms["status"]["lastFailure"]["decode"]["time"] == scheduled["lastTransitionTime"]
    assert ("Unschedulable", serving["message"]) in _warnings(cluster)


async def test_an_endpoint_picker_no_node_can_take_is_named_in_its_own_condition(cluster: Cluster) -> None:
    pool = {"endpointPicker": {"resources": {"requests": {"cpu": "1000"}}}}
    async with running_reconciler(cluster):
        await cluster.create(model_service("qwen", inferencePool=pool))

        def judged() -> Manifest | None:
            """The EPP judged and the serving pods ready (until they are, Ready speaks of them)."""
            found = get(cluster, "ModelService", "qwen")
            reasons = {
                kind: condition(found, kind).get("reason") for kind in ("EndpointPickerReady", "Ready")
            }
            return found if set(reasons.values()) == {"Unschedulable"} else None

        ms = await wait_for(judged, STEP, "the EPP's scheduling verdict in the status")
    epp, ready = condition(ms, "EndpointPickerReady"), condition(ms, "Ready")
    assert "Insufficient cpu" in epp["message"]
    assert epp["message"].startswith("pod qwen-epp-")
    assert (ready["reason"], ready["message"]) == ("Unschedulable", epp["message"])
    assert ms["status"]["lastFailure"]["endpointPicker"]["reason"] == "Unschedulable"


def test_what_the_cache_keeps_is_enough_to_quote_a_pod() -> None:
    """The quoted words survive the slim copy the informer stores (a guard for the table above)."""
    pod: Manifest = {
        "metadata": {"name": "qwen-decode-h-a"},
        "spec": {"initContainers": [{"image": "kit:1"}], "containers": [{"image": "vllm:1"}]},
        "status": {"conditions": []},
    }
    status = _out_of_memory(pod)
    kept = slim_pod({**pod, "status": status})["status"]["containerStatuses"][0]
    assert kept["lastState"]["terminated"]["reason"] == "OOMKilled"
    assert kept["restartCount"] == 5
