"""Status derivation: every row of the reference's table, the truthful additions, condition timing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from reconciler.pods import slim_pod
from shared.status import Observed, derive_status, transition_events
from tests.reconciler.kubelet import pod_status, running, stamp, terminated, waiting

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
T0_TEXT = "2026-03-01T12:00:00Z"


def _deployment(
    name: str,
    replicas: int | None,
    ready: int | None,
    conditions: list[dict[str, str]] | None = None,
    pods: int | None = None,
) -> dict[str, Any]:
    """A Deployment; ``pods`` is status.replicas, by default all desired pods once some are ready."""
    obj: dict[str, Any] = {"metadata": {"name": name}, "spec": {}, "status": {}}
    if replicas is not None:
        obj["spec"]["replicas"] = replicas
    if ready is not None:
        obj["status"]["readyReplicas"] = ready
    if pods is None and ready is not None:
        pods = max(ready, 1 if replicas is None else replicas)
    if pods:
        obj["status"]["replicas"] = pods
    if conditions is not None:
        obj["status"]["conditions"] = conditions
    return obj


def _ms(generation: int = 3, status: dict[str, Any] | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {"metadata": {"name": "m", "namespace": "ns", "generation": generation}}
    if status is not None:
        obj["status"] = status
    return obj


EPP_READY = _deployment("m-epp", 1, 1)
POOL = {"metadata": {"name": "m"}}
ROUTE = {"metadata": {"name": "m"}}
DEADLINE = {
    "type": "Progressing",
    "status": "False",
    "reason": "ProgressDeadlineExceeded",
    "message": "timed out",
}
REPLICA_FAILURE = {"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate", "message": "quota"}


def _ready(status: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in status["conditions"] if c["type"] == "Ready")


def _cond(status: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(c for c in status["conditions"] if c["type"] == kind)


@pytest.mark.parametrize(
    ("observed", "phase", "ready", "reason", "message", "counts"),
    [
        (
            Observed(epp=EPP_READY, pool=POOL),
            "Pending",
            "False",
            "DeploymentNotFound",
            "Decode Deployment has not been created yet",
            (0, 0, 0, 0),
        ),
        (
            Observed(decode=_deployment("m-decode", 2, None), epp=EPP_READY, pool=POOL),
            "Pending",
            "False",
            "PodsStarting",
            "Waiting for serving pods to become ready",
            (0, 2, 0, 0),
        ),
        (
            Observed(decode=_deployment("m-decode", 2, None, pods=2), epp=EPP_READY, pool=POOL),
            "Running",
            "False",
            "PodsStarting",
            "Waiting for serving pods to become ready",
            (0, 2, 0, 0),
        ),
        (
            Observed(
                decode=_deployment("m-decode", 2, 2),
                prefill=_deployment("m-prefill", 2, 1),
                prefill_enabled=True,
                epp=EPP_READY,
                pool=POOL,
            ),
            "Running",
            "False",
            "PartiallyReady",
            "3/4 replicas ready",
            (2, 2, 1, 2),
        ),
        (
            Observed(decode=_deployment("m-decode", 2, 2), epp=EPP_READY, pool=POOL),
            "Ready",
            "True",
            "AllReplicasReady",
            "All 2 replicas are ready",
            (2, 2, 0, 0),
        ),
        (
            Observed(decode=_deployment("m-decode", 0, None), epp=EPP_READY, pool=POOL),
            "Ready",
            "True",
            "AllReplicasReady",
            "All 0 replicas are ready",
            (0, 0, 0, 0),
        ),
        (
            Observed(decode=_deployment("m-decode", 1, 3), epp=EPP_READY, pool=POOL),
            "Ready",
            "True",
            "AllReplicasReady",
            "All 3 replicas are ready",
            (3, 1, 0, 0),
        ),
        (
            Observed(
                decode=_deployment("m-decode", 1, 1), prefill=_deployment("m-prefill", 1, 1), epp=EPP_READY
            ),
            "Ready",
            "True",
            "AllReplicasReady",
            "All 1 replicas are ready",
            (1, 1, 0, 0),
        ),
        (
            Observed(decode=_deployment("m-decode", 1, 1), prefill_enabled=True, epp=EPP_READY),
            "Pending",
            "False",
            "DeploymentNotFound",
            "Prefill Deployment has not been created yet",
            (1, 1, 0, 0),
        ),
        (
            Observed(decode=_deployment("m-decode", 1, 1), epp=_deployment("m-epp", 1, 0)),
            "Running",
            "False",
            "EndpointPickerNotReady",
            "0/1 endpoint picker replicas ready",
            (1, 1, 0, 0),
        ),
        (
            Observed(decode=_deployment("m-decode", 1, 1)),
            "Running",
            "False",
            "EndpointPickerNotReady",
            "Endpoint picker Deployment has not been created yet",
            (1, 1, 0, 0),
        ),
        (
            Observed(decode=_deployment("m-decode", 1, 0, [DEADLINE]), epp=EPP_READY),
            "Failed",
            "False",
            "ProgressDeadlineExceeded",
            "Deployment m-decode: timed out",
            (0, 1, 0, 0),
        ),
        (
            Observed(
                decode=_deployment("m-decode", 1, 1),
                prefill=_deployment("m-prefill", 1, 0, [REPLICA_FAILURE]),
                prefill_enabled=True,
                epp=EPP_READY,
            ),
            "Failed",
            "False",
            "ReplicaFailure",
            "Deployment m-prefill: quota",
            (1, 1, 0, 1),
        ),
        (
            Observed(decode=_deployment("m-decode", 1, 1), epp=_deployment("m-epp", 1, 0, [DEADLINE])),
            "Failed",
            "False",
            "ProgressDeadlineExceeded",
            "Deployment m-epp: timed out",
            (1, 1, 0, 0),
        ),
        (
            Observed(decode=_deployment("m-decode", 1, 1), epp=EPP_READY, error="creating Service x: boom"),
            "Ready",
            "False",
            "ReconcileError",
            "creating Service x: boom",
            (1, 1, 0, 0),
        ),
        (
            Observed(invalid="spec.decode.replicas: must be >= 0"),
            "Failed",
            "False",
            "InvalidSpec",
            "spec.decode.replicas: must be >= 0",
            (0, 0, 0, 0),
        ),
        (
            Observed(
                decode=_deployment("m-decode", 1, 1), epp=EPP_READY, conflicts=("Service ns/m-epp is x",)
            ),
            "Ready",
            "False",
            "NameConflict",
            "Service ns/m-epp is x",
            (1, 1, 0, 0),
        ),
    ],
    ids=[
        "decode-missing-is-pending",
        "no-pods-created-yet-is-pending",
        "pods-created-none-ready-is-running",
        "some-ready-is-partial-and-counts-prefill",
        "all-ready",
        "zero-of-zero-is-ready",
        "more-ready-than-desired-is-ready",
        "prefill-ignored-when-not-enabled",
        "prefill-enabled-but-missing-is-pending",
        "epp-not-ready-blocks-ready",
        "epp-missing-blocks-ready",
        "progress-deadline-is-failed",
        "replica-failure-is-failed",
        "epp-deadline-is-failed",
        "reconcile-error-overrides-ready",
        "invalid-spec-is-failed",
        "name-conflict-blocks-ready",
    ],
)
def test_status_table(
    observed: Observed, phase: str, ready: str, reason: str, message: str, counts: tuple[int, int, int, int]
) -> None:
    status = derive_status(_ms(), observed, T0)
    condition = _ready(status)
    assert (status["phase"], condition["status"], condition["reason"], condition["message"]) == (
        phase,
        ready,
        reason,
        message,
    )
    assert (
        status["decodeReady"],
        status["decodeReplicas"],
        status["prefillReady"],
        status["prefillReplicas"],
    ) == counts
    assert status["observedGeneration"] == 3
    assert all(c["observedGeneration"] == 3 for c in status["conditions"])


def test_a_ready_model_service_has_every_area_condition_sorted_by_type() -> None:
    observed = Observed(
        decode=_deployment("m-decode", 1, 1), epp=EPP_READY, pool=POOL, route=ROUTE, route_wanted=True
    )
    status = derive_status(_ms(), observed, T0)
    assert status["conditions"] == [
        {
            "type": "EndpointPickerReady",
            "status": "True",
            "reason": "Available",
            "message": "1/1 endpoint picker replicas ready",
            "observedGeneration": 3,
            "lastTransitionTime": T0_TEXT,
        },
        {
            "type": "IntegrationsReady",
            "status": "True",
            "reason": "AllInstalled",
            "message": "Every wanted child kind is installed",
            "observedGeneration": 3,
            "lastTransitionTime": T0_TEXT,
        },
        {
            "type": "Ready",
            "status": "True",
            "reason": "AllReplicasReady",
            "message": "All 1 replicas are ready",
            "observedGeneration": 3,
            "lastTransitionTime": T0_TEXT,
        },
        {
            "type": "RoutingReady",
            "status": "True",
            "reason": "Created",
            "message": "InferencePool and HTTPRoute created; no parent has reported on them yet",
            "observedGeneration": 3,
            "lastTransitionTime": T0_TEXT,
        },
        {
            "type": "ServingReady",
            "status": "True",
            "reason": "AllReplicasReady",
            "message": "All 1 replicas are ready",
            "observedGeneration": 3,
            "lastTransitionTime": T0_TEXT,
        },
    ]


def _parents(accepted: str, message: str = "") -> dict[str, Any]:
    condition = {"type": "Accepted", "status": accepted, "reason": "R", "message": message}
    return {"parents": [{"parentRef": {"name": "gw"}, "conditions": [condition]}]}


@pytest.mark.parametrize(
    ("observed", "status", "reason", "message"),
    [
        (
            Observed(missing_kinds=("HTTPRoute",)),
            "False",
            "CRDNotInstalled",
            "CRD not installed for HTTPRoute",
        ),
        (Observed(), "False", "NotFound", "InferencePool has not been created yet"),
        (Observed(pool=POOL, route_wanted=True), "False", "NotFound", "HTTPRoute has not been created yet"),
        (Observed(pool=POOL), "True", "Created", "InferencePool created; no parent has reported on them yet"),
        (
            Observed(
                pool=POOL | {"status": _parents("True")},
                route=ROUTE | {"status": _parents("True")},
                route_wanted=True,
            ),
            "True",
            "Accepted",
            "InferencePool and HTTPRoute accepted by their parents",
        ),
        (
            Observed(
                pool=POOL, route=ROUTE | {"status": _parents("False", "no listener")}, route_wanted=True
            ),
            "False",
            "NotAccepted",
            "HTTPRoute m not accepted by gw: R no listener",
        ),
    ],
    ids=["crd-missing", "pool-missing", "route-missing", "pool-created", "both-accepted", "route-rejected"],
)
def test_routing_condition(observed: Observed, status: str, reason: str, message: str) -> None:
    condition = _cond(derive_status(_ms(), observed, T0), "RoutingReady")
    assert (condition["status"], condition["reason"], condition["message"]) == (status, reason, message)


def test_missing_integration_crds_are_named_in_a_false_condition() -> None:
    observed = Observed(missing_kinds=("PodMonitor", "DestinationRule"))
    condition = _cond(derive_status(_ms(), observed, T0), "IntegrationsReady")
    assert (condition["status"], condition["reason"], condition["message"]) == (
        "False",
        "CRDNotInstalled",
        "CRDs not installed, children skipped: DestinationRule, PodMonitor",
    )


def test_name_conflict_condition_appears_and_disappears() -> None:
    conflicting = Observed(decode=_deployment("m-decode", 1, 1), epp=EPP_READY, conflicts=("a", "b"))
    first = derive_status(_ms(), conflicting, T0)
    assert _cond(first, "NameConflict") | {"lastTransitionTime": ""} == {
        "type": "NameConflict",
        "status": "True",
        "reason": "OwnedByAnother",
        "message": "a; b",
        "observedGeneration": 3,
        "lastTransitionTime": "",
    }
    resolved = derive_status(
        _ms(status=first), Observed(decode=_deployment("m-decode", 1, 1), epp=EPP_READY), T0
    )
    assert "NameConflict" not in {c["type"] for c in resolved["conditions"]}


def test_transition_time_moves_only_when_the_status_value_changes() -> None:
    starting = Observed(decode=_deployment("m-decode", 2, 0), epp=EPP_READY, pool=POOL)
    partial = Observed(decode=_deployment("m-decode", 2, 1), epp=EPP_READY, pool=POOL)
    ready = Observed(decode=_deployment("m-decode", 2, 2), epp=EPP_READY, pool=POOL)
    first = derive_status(_ms(), starting, T0)
    second = derive_status(_ms(status=first), partial, T0 + timedelta(minutes=1))
    third = derive_status(_ms(status=second), ready, T0 + timedelta(minutes=2))
    assert _ready(second)["lastTransitionTime"] == T0_TEXT, "False -> False keeps the time"
    assert _ready(second)["reason"] == "PartiallyReady"
    assert _ready(third)["lastTransitionTime"] == "2026-03-01T12:02:00Z", "False -> True moves it"
    assert _cond(third, "EndpointPickerReady")["lastTransitionTime"] == T0_TEXT


def test_unchanged_observation_derives_an_identical_status() -> None:
    observed = Observed(decode=_deployment("m-decode", 1, 1), epp=EPP_READY, pool=POOL)
    first = derive_status(_ms(), observed, T0)
    again = derive_status(_ms(status=first), observed, T0 + timedelta(hours=1))
    assert again == first


def test_foreign_conditions_and_status_fields_are_kept() -> None:
    foreign = {
        "type": "Audited",
        "status": "True",
        "reason": "R",
        "message": "",
        "lastTransitionTime": T0_TEXT,
    }
    status = derive_status(_ms(status={"conditions": [foreign], "extra": 1}), Observed(), T0)
    assert foreign in status["conditions"]
    assert status["extra"] == 1


def test_a_new_generation_updates_every_condition_generation() -> None:
    observed = Observed(decode=_deployment("m-decode", 1, 1), epp=EPP_READY, pool=POOL)
    first = derive_status(_ms(generation=1), observed, T0)
    second = derive_status(_ms(generation=2, status=first), observed, T0)
    assert second != first
    assert {c["observedGeneration"] for c in second["conditions"]} == {2}
    assert second["observedGeneration"] == 2


def test_very_long_error_messages_are_cut_to_the_condition_limit() -> None:
    status = derive_status(_ms(), Observed(error="x" * 40000), T0)
    assert len(_ready(status)["message"]) == 32768


# ----- what the pods say ----------------------------------------------------------------------


def _pod(name: str, containers: list[dict[str, Any]]) -> dict[str, Any]:
    scheduled = {"type": "PodScheduled", "status": "True", "lastTransitionTime": stamp(0)}
    pod: dict[str, Any] = {
        "metadata": {"name": name, "labels": {"pod-template-hash": "h"}},
        "status": {"conditions": [scheduled]},
    }
    pod["status"] = pod_status(pod, containers=containers, phase="Running")
    return slim_pod(pod)


def _crashing(name: str, restarts: int = 3, finished: float = 30) -> dict[str, Any]:
    status = waiting("vllm", "vllm:1", "CrashLoopBackOff", restartCount=restarts)
    status["lastState"] = terminated(137, "OOMKilled", finished=stamp(finished))
    return _pod(name, [status])


def _loading(name: str) -> dict[str, Any]:
    return _pod(name, [running("vllm", "vllm:1", stamp(10), started=False, ready=False)])


def _serving_ready(name: str) -> dict[str, Any]:
    return _pod(name, [running("vllm", "vllm:1", stamp(10), started=True, ready=True)])


def _pull_failing(name: str) -> dict[str, Any]:
    return _pod(name, [waiting("epp", "epp:1", "ErrImagePull", "manifest unknown")])


CRASH_TEXT = "pod m-decode-h-a: vllm exited with OOMKilled (exit code 137), restarted 3 times"


def test_a_crashing_engine_names_itself_in_serving_ready_ready_and_last_failure() -> None:
    observed = Observed(
        decode=_deployment("m-decode", 1, 0), decode_pods=[_crashing("m-decode-h-a")], epp=EPP_READY
    )
    status = derive_status(_ms(), observed, T0)
    assert status["phase"] == "Failed"
    for kind in ("Ready", "ServingReady"):
        condition = _cond(status, kind)
        assert (condition["status"], condition["reason"], condition["message"]) == (
            "False",
            "EngineCrashLoop",
            CRASH_TEXT,
        )
    assert status["lastFailure"] == {
        "decode": {
            "reason": "EngineCrashLoop",
            "message": CRASH_TEXT,
            "pod": "m-decode-h-a",
            "time": stamp(30),
        }
    }


def test_a_loading_model_says_so_with_the_replica_counts() -> None:
    observed = Observed(
        decode=_deployment("m-decode", 2, 1),
        decode_pods=[_serving_ready("m-decode-h-a"), _loading("m-decode-h-b")],
        epp=EPP_READY,
    )
    status = derive_status(_ms(), observed, T0)
    ready = _ready(status)
    assert (status["phase"], ready["reason"], ready["message"]) == (
        "Running",
        "ModelLoading",
        f"1/2 replicas ready; pod m-decode-h-b: vllm loading the model since {stamp(10)} "
        "(startup probe not passed yet)",
    )
    assert "lastFailure" not in status


def test_an_endpoint_picker_that_cannot_pull_its_image_fails_the_model_service() -> None:
    observed = Observed(
        decode=_deployment("m-decode", 1, 1),
        epp=_deployment("m-epp", 1, 0),
        epp_pods=[_pull_failing("m-epp-h-a")],
    )
    status = derive_status(_ms(), observed, T0)
    expected = (
        "False",
        "ImagePullFailed",
        "pod m-epp-h-a: container epp cannot pull image epp:1: ErrImagePull: manifest unknown",
    )
    for kind in ("Ready", "EndpointPickerReady"):
        condition = _cond(status, kind)
        assert (condition["status"], condition["reason"], condition["message"]) == expected
    assert _cond(status, "ServingReady")["status"] == "True"
    assert status["phase"] == "Failed"
    assert status["lastFailure"]["endpointPicker"] == {
        "reason": "ImagePullFailed",
        "message": expected[2],
        "pod": "m-epp-h-a",
        "time": T0_TEXT,
    }


def test_the_last_failure_stays_after_recovery_and_keeps_its_first_sighting() -> None:
    failing = Observed(
        decode=_deployment("m-decode", 1, 1),
        epp=_deployment("m-epp", 1, 0),
        epp_pods=[_pull_failing("m-epp-h-a")],
    )
    first = derive_status(_ms(), failing, T0)
    again = derive_status(_ms(status=first), failing, T0 + timedelta(minutes=5))
    assert again == first, "no own time: the first sighting is kept while the failure stays"
    recovered = Observed(
        decode=_deployment("m-decode", 1, 1), epp=EPP_READY, epp_pods=[_serving_ready("m-epp-h-a")]
    )
    after = derive_status(_ms(status=again), recovered, T0 + timedelta(minutes=6))
    assert after["phase"] == "Ready"
    assert after["lastFailure"] == first["lastFailure"]
    elsewhere = Observed(
        decode=_deployment("m-decode", 1, 1),
        epp=_deployment("m-epp", 1, 0),
        epp_pods=[_pull_failing("m-epp-h-b")],
    )
    moved = derive_status(_ms(status=after), elsewhere, T0 + timedelta(minutes=7))
    assert moved["lastFailure"]["endpointPicker"]["pod"] == "m-epp-h-b"
    assert moved["lastFailure"]["endpointPicker"]["time"] == "2026-03-01T12:07:00Z"


def test_a_crash_loop_updates_its_last_failure_with_each_crash() -> None:
    def crashing(restarts: int, finished: float) -> Observed:
        return Observed(
            decode=_deployment("m-decode", 1, 0),
            decode_pods=[_crashing("m-decode-h-a", restarts, finished)],
            epp=EPP_READY,
        )

    first = derive_status(_ms(), crashing(3, 30), T0)
    later = derive_status(_ms(status=first), crashing(4, 90), T0 + timedelta(minutes=2))
    assert later["lastFailure"]["decode"]["time"] == stamp(90)
    assert later["lastFailure"]["decode"]["message"].endswith("restarted 4 times")
    assert _ready(later)["lastTransitionTime"] == _ready(first)["lastTransitionTime"]


def test_turning_prefill_off_drops_its_last_failure() -> None:
    failing = Observed(
        decode=_deployment("m-decode", 1, 1),
        prefill=_deployment("m-prefill", 1, 0),
        prefill_pods=[_crashing("m-prefill-h-a")],
        prefill_enabled=True,
        epp=EPP_READY,
    )
    first = derive_status(_ms(), failing, T0)
    assert set(first["lastFailure"]) == {"prefill"}
    off = derive_status(_ms(status=first), Observed(decode=_deployment("m-decode", 1, 1), epp=EPP_READY), T0)
    assert "lastFailure" not in off


STARTING = Observed(
    decode=_deployment("m-decode", 1, 0, pods=1), decode_pods=[_loading("m-decode-h-a")], epp=EPP_READY
)
CRASHING = Observed(
    decode=_deployment("m-decode", 1, 0), decode_pods=[_crashing("m-decode-h-a")], epp=EPP_READY
)
CRASHING_AGAIN = Observed(
    decode=_deployment("m-decode", 1, 0), decode_pods=[_crashing("m-decode-h-a", 4, 90)], epp=EPP_READY
)
EPP_PULLING = Observed(
    decode=_deployment("m-decode", 1, 0),
    decode_pods=[_crashing("m-decode-h-a", 4, 90)],
    epp=_deployment("m-epp", 1, 0),
    epp_pods=[_pull_failing("m-epp-h-a")],
)
READY_AGAIN = Observed(decode=_deployment("m-decode", 1, 1), epp=EPP_READY)


def test_events_mark_each_transition_once() -> None:
    """Observations in turn; the Events each status change is worth."""
    steps = [STARTING, CRASHING, CRASHING_AGAIN, EPP_PULLING, READY_AGAIN, CRASHING, Observed(invalid="bad")]
    status: dict[str, Any] = {}
    events = []
    for i, observed in enumerate(steps):
        new = derive_status(_ms(status=status), observed, T0 + timedelta(minutes=i))
        events.append(transition_events(status, new))
        status = new
    epp_text = "pod m-epp-h-a: container epp cannot pull image epp:1: ErrImagePull: manifest unknown"
    assert events == [
        [],
        [("Warning", "EngineCrashLoop", CRASH_TEXT)],
        [],
        [("Warning", "ImagePullFailed", epp_text)],
        [("Normal", "Ready", "All serving replicas are ready")],
        [("Warning", "EngineCrashLoop", CRASH_TEXT)],
        [("Warning", "InvalidSpec", "bad")],
    ]
