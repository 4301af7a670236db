"""Event recording and de-duplication, against the local API server with a manual clock."""

from __future__ import annotations

from typing import Any

from localcluster.cluster import LocalCluster
from reconciler.events import EVENTS, EventRecorder
from reconciler.kube import Client
from tests.reconciler.fakeclock import ManualClock
from tests.reconciler.harness import NAMESPACE, model_service

MS: dict[str, Any] = model_service("m") | {"metadata": {"name": "m", "namespace": NAMESPACE, "uid": "u-1"}}


def _events(cluster: LocalCluster) -> list[dict[str, Any]]:
    return cluster.list("events.k8s.io/v1", "Event", NAMESPACE)


async def test_an_event_names_its_object_and_the_controller(cluster: LocalCluster, kube: Client) -> None:
    recorder = EventRecorder(kube, ManualClock(), "pod-0")
    await recorder.record(MS, "Normal", "Created", "Created Deployment llm/m-decode")
    [event] = _events(cluster)
    assert event["regarding"] == {
        "apiVersion": "model.otterscale.io/v1alpha1",
        "kind": "ModelService",
        "name": "m",
        "namespace": NAMESPACE,
        "uid": "u-1",
    }
    assert (event["reportingController"], event["reportingInstance"]) == ("modelservice-controller", "pod-0")
    assert (event["type"], event["reason"], event["action"]) == ("Normal", "Created", "Reconcile")
    assert event["eventTime"] == "2026-01-01T00:00:00.000000Z"


async def test_repeats_bump_one_series_instead_of_new_events(cluster: LocalCluster, kube: Client) -> None:
    clock = ManualClock()
    recorder = EventRecorder(kube, clock, "pod-0", window=600, min_patch_interval=30)
    for _ in range(3):
        await recorder.record(MS, "Warning", "ReconcileError", "boom")
        clock.advance(1)
    assert len(_events(cluster)) == 1
    assert recorder.pending(MS, "ReconcileError", "boom") == 2, "repeats inside the patch interval wait"
    clock.advance(30)
    await recorder.record(MS, "Warning", "ReconcileError", "boom")
    [event] = _events(cluster)
    assert event["series"]["count"] == 4
    assert recorder.pending(MS, "ReconcileError", "boom") == 0
    assert recorder.sent == 2


async def test_a_different_note_or_an_expired_window_starts_a_new_event(
    cluster: LocalCluster, kube: Client
) -> None:
    clock = ManualClock()
    recorder = EventRecorder(kube, clock, "pod-0", window=600)
    await recorder.record(MS, "Warning", "ReconcileError", "boom")
    await recorder.record(MS, "Warning", "ReconcileError", "bang")
    assert len(_events(cluster)) == 2
    clock.advance(601)
    await recorder.record(MS, "Warning", "ReconcileError", "boom")
    assert len(_events(cluster)) == 3


async def test_a_failure_to_record_never_raises(cluster: LocalCluster, kube: Client) -> None:
    clock = ManualClock()
    recorder = EventRecorder(kube, clock, "pod-0", min_patch_interval=0)
    cluster.faults.fail_next("create", "events", code=500)
    await recorder.record(MS, "Normal", "Created", "x")
    assert _events(cluster) == []
    await recorder.record(MS, "Normal", "Created", "y")
    [event] = _events(cluster)
    await kube.request("DELETE", EVENTS.path(NAMESPACE, event["metadata"]["name"]), verb="delete")
    await recorder.record(MS, "Normal", "Created", "y")  # the patch finds it gone
    await recorder.record(MS, "Normal", "Created", "y")  # and this starts afresh
    assert [e["note"] for e in _events(cluster)] == ["y"]


async def test_long_notes_are_cut_to_the_api_limit(cluster: LocalCluster, kube: Client) -> None:
    recorder = EventRecorder(kube, ManualClock(), "pod-0")
    await recorder.record(MS, "Normal", "Created", "x" * 5000)
    [event] = _events(cluster)
    assert len(event["note"]) == 1024
    assert event["note"].endswith("...")
