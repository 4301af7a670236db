"""Event recording and de-duplication, against the real API server with a manual clock."""

from __future__ import annotations

from typing import Any

from reconciler.manager import REPORTING_CONTROLLER
from reconciler.runtime.client import Client
from reconciler.runtime.events import EVENTS, EventRecorder
from tests.reconciler.fakeclock import ManualClock
from tests.reconciler.harness import model_service
from tests.support.cluster import Cluster


def _ms(cluster: Cluster) -> dict[str, Any]:
    """The ModelService the events are about; it need not exist (the API server does not check)."""
    return model_service("m") | {"metadata": {"name": "m", "namespace": cluster.namespace, "uid": "u-1"}}


def _events(cluster: Cluster) -> list[dict[str, Any]]:
    return cluster.list("events.k8s.io/v1", "Event")


async def test_an_event_names_its_object_and_the_controller(cluster: Cluster, kube: Client) -> None:
    recorder = EventRecorder(kube, ManualClock(), "pod-0", controller=REPORTING_CONTROLLER)
    await recorder.record(_ms(cluster), "Normal", "Created", "Created Deployment llm/m-decode")
    [event] = _events(cluster)
    assert event["regarding"] == {
        "apiVersion": "model.otterscale.io/v1alpha1",
        "kind": "ModelService",
        "name": "m",
        "namespace": cluster.namespace,
        "uid": "u-1",
    }
    assert (event["reportingController"], event["reportingInstance"]) == ("modelservice-controller", "pod-0")
    assert (event["type"], event["reason"], event["action"]) == ("Normal", "Created", "Reconcile")
    assert event["eventTime"] == "2026-01-01T00:00:00.000000Z"


async def test_repeats_bump_one_series_instead_of_new_events(cluster: Cluster, kube: Client) -> None:
    ms = _ms(cluster)
    clock = ManualClock()
    recorder = EventRecorder(
        kube, clock, "pod-0", controller=REPORTING_CONTROLLER, window=600, min_patch_interval=30
    )
    for _ in range(3):
        await recorder.record(ms, "Warning", "ReconcileError", "boom")
        clock.advance(1)
    assert len(_events(cluster)) == 1
    assert recorder.pending(ms, "ReconcileError", "boom") == 2, "repeats inside the patch interval wait"
    clock.advance(30)
    await recorder.record(ms, "Warning", "ReconcileError", "boom")
    [event] = _events(cluster)
    assert event["series"]["count"] == 4
    assert recorder.pending(ms, "ReconcileError", "boom") == 0
    assert recorder.sent == 2


async def test_a_different_note_or_an_expired_window_starts_a_new_event(
    cluster: Cluster, kube: Client
) -> None:
    ms = _ms(cluster)
    clock = ManualClock()
    recorder = EventRecorder(kube, clock, "pod-0", controller=REPORTING_CONTROLLER, window=600)
    await recorder.record(ms, "Warning", "ReconcileError", "boom")
    await recorder.record(ms, "Warning", "ReconcileError", "bang")
    assert len(_events(cluster)) == 2
    clock.advance(601)
    await recorder.record(ms, "Warning", "ReconcileError", "boom")
    assert len(_events(cluster)) == 3


async def test_a_failure_to_record_never_raises(cluster: Cluster, kube: Client) -> None:
    ms = _ms(cluster)
    clock = ManualClock()
    # The recorder goes through the fault proxy; the test's own requests do not.
    async with Client(cluster.client_config()) as client:
        recorder = EventRecorder(
            client, clock, "pod-0", controller=REPORTING_CONTROLLER, min_patch_interval=0
        )
        cluster.faults.fail_next("create", "events", code=500)
        await recorder.record(ms, "Normal", "Created", "x")
        assert _events(cluster) == []
        await recorder.record(ms, "Normal", "Created", "y")
        [event] = _events(cluster)
        await kube.request("DELETE", EVENTS.path(cluster.namespace, event["metadata"]["name"]), verb="delete")
        await recorder.record(ms, "Normal", "Created", "y")  # the patch finds it gone
        await recorder.record(ms, "Normal", "Created", "y")  # and this starts afresh
    assert [e["note"] for e in _events(cluster)] == ["y"]


async def test_long_notes_are_cut_to_the_api_limit(cluster: Cluster, kube: Client) -> None:
    recorder = EventRecorder(kube, ManualClock(), "pod-0", controller=REPORTING_CONTROLLER)
    await recorder.record(_ms(cluster), "Normal", "Created", "x" * 5000)
    [event] = _events(cluster)
    assert len(event["note"]) == 1024
    assert event["note"].endswith("...")
