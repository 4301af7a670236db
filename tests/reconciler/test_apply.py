"""Pure parts of apply: the subset comparison, the update merge, ownership."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.apply import (
    DESIRED_HASH,
    Ownership,
    describe_owner,
    merged,
    needs_update,
    ownership,
    with_hash,
)
from shared import labels

DESIRED: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "d", "namespace": "ns", "labels": {"a": "1"}},
    "spec": {
        "replicas": 1,
        "template": {
            "spec": {"containers": [{"name": "c", "image": "i", "args": ["x", "y"]}], "volumes": []}
        },
    },
}


def _live(**changes: Any) -> dict[str, Any]:
    """DESIRED as the API server returns it (defaults added), with ``changes`` to spec.template.spec."""
    container = {
        "name": "c",
        "image": "i",
        "args": ["x", "y"],
        "terminationMessagePath": "/dev/termination-log",
    }
    pod = {"containers": [container], "dnsPolicy": "ClusterFirst", **changes}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "d",
            "namespace": "ns",
            "labels": {"a": "1", "extra": "z"},
            "resourceVersion": "7",
        },
        "spec": {"replicas": 1, "strategy": {"type": "RollingUpdate"}, "template": {"spec": pod}},
        "status": {"readyReplicas": 1},
    }


@pytest.mark.parametrize(
    ("live", "expected"),
    [
        (_live(), False),
        (_live(containers=[{"name": "c", "image": "other", "args": ["x", "y"]}]), True),
        (_live(containers=[{"name": "c", "image": "i", "args": ["x"]}]), True),
        (_live(containers=[{"name": "c", "image": "i", "args": ["y", "x"]}]), True),
        (_live(containers=[{"name": "c", "image": "i", "args": ["x", "y"]}, {"name": "sidecar"}]), True),
        (_live(containers=[{"name": "c", "image": "i"}]), True),
        ({**_live(), "spec": {**_live()["spec"], "replicas": 3}}, True),
        ({**_live(), "metadata": {**_live()["metadata"], "labels": {"a": "2"}}}, True),
        ({**_live(), "metadata": {**_live()["metadata"], "labels": {}}}, True),
    ],
    ids=[
        "server-defaults-and-extra-labels-are-no-difference",
        "changed-image",
        "shorter-list",
        "reordered-list",
        "extra-list-item",
        "missing-field",
        "changed-replicas",
        "changed-label",
        "removed-label",
    ],
)
def test_needs_update(live: dict[str, Any], expected: bool) -> None:
    assert needs_update(live, DESIRED) is expected


@pytest.mark.parametrize(
    ("desired", "live", "expected"),
    [
        ({"a": True}, {"a": 1}, True),
        ({"a": 1}, {"a": 1.0}, False),
        ({"a": "1"}, {"a": 1}, True),
        ({"a": {}}, {}, False),
        ({"a": []}, {}, False),
        ({"a": {"b": None}}, {"a": {}}, False),
        ({"a": []}, {"a": [1]}, True),
    ],
    ids=[
        "true-is-not-one",
        "int-equals-float",
        "string-is-not-number",
        "empty-map-equals-absent",
        "empty-list-equals-absent",
        "none-equals-absent",
        "empty-list-is-not-a-non-empty-one",
    ],
)
def test_needs_update_scalars_and_empties(
    desired: dict[str, Any], live: dict[str, Any], expected: bool
) -> None:
    base = {"metadata": {"name": "x"}}
    assert needs_update(base | live, base | desired) is expected


def test_the_hash_annotation_changes_with_the_desired_object_only() -> None:
    first = with_hash(DESIRED)
    again = with_hash(DESIRED)
    changed = with_hash({**DESIRED, "spec": {**DESIRED["spec"], "replicas": 2}})
    assert first == again
    assert first["metadata"]["annotations"][DESIRED_HASH] != changed["metadata"]["annotations"][DESIRED_HASH]
    assert "annotations" not in DESIRED["metadata"], "the input is not modified"
    assert needs_update(merged(_live(), first), changed), "a changed hash alone forces the update"


def test_merged_replaces_our_fields_and_keeps_everything_else() -> None:
    live = _live(nodeSelector={"hand": "made"})
    live["metadata"]["ownerReferences"] = [{"uid": "other", "controller": False}]
    want = with_hash(DESIRED) | {
        "metadata": {**with_hash(DESIRED)["metadata"], "ownerReferences": [{"uid": "u", "controller": True}]}
    }
    out = merged(live, want)
    assert out["spec"] == DESIRED["spec"], "spec is replaced whole: a field we stopped setting disappears"
    assert out["metadata"]["labels"] == {"a": "1", "extra": "z"}
    assert out["metadata"]["resourceVersion"] == "7", "the update carries the live resourceVersion"
    assert [r["uid"] for r in out["metadata"]["ownerReferences"]] == ["other", "u"]
    assert out["status"] == {"readyReplicas": 1}
    assert not needs_update(out, want)


def test_merged_keeps_server_allocated_service_fields() -> None:
    live = {
        "kind": "Service",
        "metadata": {"name": "s"},
        "spec": {"clusterIP": "10.0.0.7", "ports": [{"port": 1}], "selector": {"a": "b"}},
    }
    desired = {
        "kind": "Service",
        "metadata": {"name": "s"},
        "spec": {"ports": [{"port": 2}], "selector": {"c": "d"}},
    }
    assert merged(live, desired)["spec"] == {
        "clusterIP": "10.0.0.7",
        "ports": [{"port": 2}],
        "selector": {"c": "d"},
    }


def _ns(owner: dict[str, Any] | None, obj_labels: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "x", "namespace": "ns", "labels": obj_labels or {}}
    if owner is not None:
        meta["ownerReferences"] = [owner]
    return {"kind": "ConfigMap", "metadata": meta}


def _cluster(obj_labels: dict[str, str]) -> dict[str, Any]:
    return {"kind": "ClusterRole", "metadata": {"name": "ns-x-epp", "labels": obj_labels}}


MANAGED = {labels.MANAGED_BY: labels.MANAGED_BY_VALUE}


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (_ns({"uid": "u", "controller": True, "kind": "ModelService", "name": "m"}), Ownership.OURS),
        (_ns({"uid": "v", "controller": True, "kind": "ModelService", "name": "n"}), Ownership.FOREIGN),
        (_ns({"uid": "v", "controller": True, "kind": "ReplicaSet", "name": "r"}), Ownership.FOREIGN),
        (_ns({"uid": "u", "controller": False}, MANAGED), Ownership.ADOPTABLE),
        (_ns(None, MANAGED), Ownership.ADOPTABLE),
        (_ns(None, MANAGED | {labels.OWNER_NAME: "m"}), Ownership.ADOPTABLE),
        (_ns(None, MANAGED | {labels.OWNER_NAME: "other"}), Ownership.FOREIGN),
        (_ns(None), Ownership.FOREIGN),
        (_cluster(MANAGED | {labels.OWNER_UID: "u"}), Ownership.OURS),
        (_cluster(MANAGED | {labels.OWNER_UID: "v"}), Ownership.FOREIGN),
        (_cluster(MANAGED), Ownership.ADOPTABLE),
        (_cluster(MANAGED | {labels.OWNER_NAMESPACE: "elsewhere"}), Ownership.FOREIGN),
        (_cluster({}), Ownership.FOREIGN),
    ],
    ids=[
        "our-controller",
        "another-model-service",
        "another-kind",
        "non-controller-reference-with-our-label",
        "orphan-with-our-label",
        "orphan-naming-us",
        "orphan-naming-another",
        "unlabelled",
        "cluster-scoped-with-our-uid",
        "cluster-scoped-with-another-uid",
        "cluster-scoped-from-the-reference-operator",
        "cluster-scoped-of-another-namespace",
        "cluster-scoped-unlabelled",
    ],
)
def test_ownership(obj: dict[str, Any], expected: Ownership) -> None:
    assert ownership(obj, "m", "ns", "u") is expected


def test_the_owner_description_names_kind_name_and_uid() -> None:
    obj = _ns({"uid": "v", "controller": True, "kind": "ModelService", "name": "n"})
    assert describe_owner(obj) == "ModelService n (uid v)"
    cluster = _cluster({labels.OWNER_UID: "v", labels.OWNER_NAMESPACE: "a", labels.OWNER_NAME: "b"})
    assert describe_owner(cluster) == "ModelService a/b (uid v)"


@pytest.mark.parametrize(
    ("live_refs", "expected"),
    [
        ([{"uid": "u", "controller": True}], False),
        ([{"uid": "other"}, {"uid": "u", "controller": True}], False),
        ([{"uid": "other"}], True),
        ([{"uid": "u", "controller": False}], True),
        ([], True),
    ],
    ids=["ours-only", "ours-among-others", "ours-missing", "ours-not-controller", "none"],
)
def test_owner_references_are_compared_as_a_set(live_refs: list[dict[str, Any]], expected: bool) -> None:
    desired = {"metadata": {"name": "x", "ownerReferences": [{"uid": "u", "controller": True}]}}
    live = {"metadata": {"name": "x", "ownerReferences": live_refs}}
    assert needs_update(live, desired) is expected


@pytest.mark.parametrize(
    ("desired", "live", "expected"),
    [
        ({"memory": "1024Mi"}, {"memory": "1Gi"}, False),
        ({"cpu": "500m"}, {"cpu": "0.5"}, False),
        ({"cpu": 4}, {"cpu": "4"}, False),
        ({"memory": "1Gi"}, {"memory": "2Gi"}, True),
        ({"nvidia.com/gpu": "1"}, {"nvidia.com/gpu": "2"}, True),
    ],
    ids=["canonical-binary-suffix", "millicores", "number-and-string", "different-memory", "different-gpus"],
)
def test_resource_quantities_compare_by_value(
    desired: dict[str, Any], live: dict[str, Any], expected: bool
) -> None:
    container = {"name": "c"}
    want = {
        "metadata": {"name": "x"},
        "spec": {"containers": [container | {"resources": {"limits": desired}}]},
    }
    have = {"metadata": {"name": "x"}, "spec": {"containers": [container | {"resources": {"limits": live}}]}}
    assert needs_update(have, want) is expected


def test_quantity_comparison_is_limited_to_resource_maps() -> None:
    want = {"metadata": {"name": "x"}, "data": {"size": "1024Mi"}}
    have = {"metadata": {"name": "x"}, "data": {"size": "1Gi"}}
    assert needs_update(have, want), "a ConfigMap value is text, not a quantity"
