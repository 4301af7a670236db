"""Pure parts of apply: would an apply change the child (managedFields and values), the replicas
handover, the takeover patch, what the cache keeps, ownership."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from reconciler.apply import (
    FIELD_MANAGER,
    FIELDS,
    HANDOVER_MANAGER,
    LEGACY_HASH,
    Ownership,
    describe_owner,
    ownership,
    replicas_handover,
    takeover_patch,
)
from shared import labels

Manifest = dict[str, Any]
REF = {"apiVersion": "model.otterscale.io/v1alpha1", "kind": "ModelService", "name": "m", "uid": "u"}
DESIRED: Manifest = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "d", "namespace": "ns", "labels": {"a": "1"}, "ownerReferences": [REF]},
    "spec": {
        "replicas": 1,
        "selector": {"matchLabels": {"a": "1"}},
        "template": {
            "spec": {
                "containers": [
                    {
                        "name": "c",
                        "image": "i",
                        "args": ["x", "y"],
                        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                        "resources": {"limits": {"memory": "1024Mi"}},
                    }
                ]
            }
        },
    },
}
LEAF: dict[str, Any] = {}
# What the API server records for our apply of DESIRED (the format it answers with: "k:" items of
# lists merged by key, "." for the item itself, a leaf for atomic values such as the selector).
OWNED: Manifest = {
    "f:metadata": {
        "f:labels": {"f:a": LEAF},
        "f:ownerReferences": {'k:{"uid":"u"}': LEAF},
    },
    "f:spec": {
        "f:replicas": LEAF,
        "f:selector": LEAF,
        "f:template": {
            "f:spec": {
                "f:containers": {
                    'k:{"name":"c"}': {
                        ".": LEAF,
                        "f:name": LEAF,
                        "f:image": LEAF,
                        "f:args": LEAF,
                        "f:env": {
                            'k:{"name":"A"}': {".": LEAF, "f:name": LEAF, "f:value": LEAF},
                            'k:{"name":"B"}': {".": LEAF, "f:name": LEAF, "f:value": LEAF},
                        },
                        "f:resources": {"f:limits": {"f:memory": LEAF}},
                    }
                }
            }
        },
    },
}


def _entry(fields: Manifest, manager: str = FIELD_MANAGER, operation: str = "Apply", **more: str) -> Manifest:
    return {"manager": manager, "operation": operation, "fieldsV1": fields, **more}


def _live() -> Manifest:
    """DESIRED as the API server returns it: defaults added, quantities canonical, another
    manager's label, env var and sidecar, and the status writer's managedFields entry."""
    live = copy.deepcopy(DESIRED)
    live["metadata"].update(resourceVersion="7", uid="x")
    live["metadata"]["labels"]["team"] = "z"
    live["metadata"]["managedFields"] = [
        _entry(copy.deepcopy(OWNED)),
        _entry({"f:metadata": {"f:labels": {"f:team": LEAF}}}, "kubectl", "Update"),
        _entry({"f:status": LEAF}, "kube-controller-manager", "Update", subresource="status"),
    ]
    spec = live["spec"]
    spec.update(strategy={"type": "RollingUpdate"}, progressDeadlineSeconds=600)
    pod = spec["template"]["spec"]
    pod.update(dnsPolicy="ClusterFirst", restartPolicy="Always")
    container = pod["containers"][0]
    container.update(terminationMessagePath="/dev/termination-log", imagePullPolicy="IfNotPresent")
    container["env"].insert(1, {"name": "USER", "value": "mine"})
    container["resources"]["limits"]["memory"] = "1Gi"
    pod["containers"].append({"name": "sidecar", "image": "s"})
    live["status"] = {"readyReplicas": 1}
    return live


def _tree(live: Manifest) -> Manifest:
    """The fieldsV1 tree of our Apply entry in ``live`` (changes to it change ``live``)."""
    entry = next(e for e in live["metadata"]["managedFields"] if e["manager"] == FIELD_MANAGER)
    tree: Manifest = entry["fieldsV1"]
    return tree


def _container(obj: Manifest) -> Manifest:
    container: Manifest = obj["spec"]["template"]["spec"]["containers"][0]
    return container


Change = Callable[[Manifest], None]


def _set(path: str, value: Any) -> Change:
    def change(obj: Manifest) -> None:
        *parents, last = path.split(".")
        node = obj
        for name in parents:
            node = node[name]
        node[last] = value

    return change


def _drop(path: str) -> Change:
    def change(obj: Manifest) -> None:
        *parents, last = path.split(".")
        node = obj
        for name in parents:
            node = node[name]
        del node[last]

    return change


def _in_container(change: Change) -> Change:
    return lambda obj: change(_container(obj))


def _disown(*path: str) -> Change:
    """Another manager took the field (an update that changes a field takes it)."""

    def change(live: Manifest) -> None:
        parents = [_tree(live)]
        for name in path[:-1]:
            parents.append(parents[-1][name])
        del parents[-1][path[-1]]
        for parent, name in zip(reversed(parents[:-1]), reversed(path[:-1]), strict=True):
            if not parent[name]:
                del parent[name]  # the API server keeps no empty branch: a leaf would mean "owned whole"

    return change


def _env(*names: str) -> Change:
    return _in_container(
        _set("env", [{"name": n, "value": {"A": "1", "B": "2"}.get(n, "mine")} for n in names])
    )


def _keep(obj: Manifest) -> None:
    pass


POD = ("f:spec", "f:template", "f:spec", "f:containers", 'k:{"name":"c"}')
DIFFERENT = [
    (_keep, _in_container(_set("image", "j"))),
    (_keep, _in_container(_set("args", ["x"]))),
    (_keep, _in_container(_set("args", ["y", "x"]))),
    (_keep, _in_container(_set("env", [{"name": "A", "value": "9"}, {"name": "B", "value": "2"}]))),
    (
        _keep,
        _in_container(
            _set("env", [*DESIRED["spec"]["template"]["spec"]["containers"][0]["env"], {"name": "C"}])
        ),
    ),
    (_keep, _in_container(_set("env", [{"name": "A", "value": "1"}]))),
    (_env("B", "USER", "A"), _keep),
    (_env("A", "USER"), _keep),
    (_set("metadata.labels.a", "2"), _keep),
    (_drop("metadata.labels.a"), _keep),
    (_disown("f:metadata", "f:labels", "f:a"), _keep),
    (_keep, _drop("metadata.labels.a")),
    (_keep, _drop("spec.replicas")),
    (_disown("f:spec", "f:replicas"), _keep),
    (_set("spec.selector", {"matchLabels": {"a": "2"}}), _keep),
    (_in_container(_set("resources", {"limits": {"memory": "2Gi"}})), _keep),
    (_set("metadata.ownerReferences", []), _keep),
    (_disown(*POD, "f:env", 'k:{"name":"B"}'), _keep),
    (_set("metadata.managedFields", [_entry(OWNED, operation="Update")]), _keep),
]


def test_the_live_object_with_defaults_and_other_managers_fields_needs_no_apply() -> None:
    assert not FIELDS.differs(DESIRED, _live())


def test_replicas_an_autoscaler_owns_are_no_difference() -> None:
    live, desired = _live(), copy.deepcopy(DESIRED)
    _disown("f:spec", "f:replicas")(live)
    live["spec"]["replicas"] = 5
    del desired["spec"]["replicas"]
    assert not FIELDS.differs(desired, live)
    desired["spec"]["replicas"] = 5
    assert FIELDS.differs(desired, live), "setting them again claims them back, even at the same value"


@pytest.mark.parametrize(
    ("live_change", "desired_change"),
    DIFFERENT,
    ids=[
        "new-image",
        "shorter-atomic-list",
        "reordered-atomic-list",
        "new-env-value",
        "new-env-item",
        "env-item-no-longer-set",
        "our-env-items-reordered",
        "our-env-item-removed",
        "label-edited",
        "label-removed",
        "label-taken-by-another-manager",
        "label-no-longer-set",
        "replicas-no-longer-set-but-still-ours",
        "replicas-set-again-after-an-autoscaler-had-them",
        "atomic-selector-edited",
        "different-memory",
        "owner-reference-removed",
        "env-item-taken-by-another-manager",
        "never-applied-only-created-or-updated",
    ],
)
def test_an_apply_that_would_change_something_is_sent(live_change: Change, desired_change: Change) -> None:
    live, desired = _live(), copy.deepcopy(DESIRED)
    assert not FIELDS.differs(desired, live), "the unchanged pair is the baseline"
    live_change(live)
    desired_change(desired)
    assert FIELDS.differs(desired, live)


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
    want, have = copy.deepcopy(DESIRED), _live()
    _container(want)["resources"] = {"limits": desired}
    _container(have)["resources"] = {"limits": live}
    _tree(have)["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"c"}']["f:resources"] = {
        "f:limits": {f"f:{name}": LEAF for name in desired}
    }
    assert FIELDS.differs(want, have) is expected


@pytest.mark.parametrize(
    ("desired", "live", "expected"),
    [
        ({"a": True}, {"a": 1}, False),
        ({"a": 1}, {"a": 1.0}, True),
        ({"a": "1"}, {"a": 1}, False),
        ({"a": {}}, {}, True),
        ({"a": []}, {}, True),
        ({"a": {"b": None}}, {"a": {}}, True),
        ({"a": []}, {"a": [1]}, False),
        ({"size": "1024Mi"}, {"size": "1Gi"}, False),
    ],
    ids=[
        "true-is-not-one",
        "int-equals-float",
        "string-is-not-number",
        "empty-map-equals-absent",
        "empty-list-equals-absent",
        "none-equals-absent",
        "empty-list-is-not-a-non-empty-one",
        "text-is-not-a-quantity-outside-resources",
    ],
)
def test_values_compare_as_subsets(desired: dict[str, Any], live: dict[str, Any], expected: bool) -> None:
    assert FIELDS.is_subset(desired, live) is expected


def _config_map(owned_fields: Manifest) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "managedFields": [_entry(owned_fields)]},
    }


def test_an_empty_value_is_ours_once_applied_though_the_object_drops_it() -> None:
    desired: Manifest = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "annotations": {}},
    }
    assert FIELDS.differs(desired, _config_map({})), "not ours yet: the apply claims it"
    assert not FIELDS.differs(desired, _config_map({"f:metadata": {"f:annotations": LEAF}}))
    desired["metadata"]["annotations"] = {"a": "b"}
    assert FIELDS.differs(desired, _config_map({"f:metadata": {"f:annotations": LEAF}}))


def test_a_key_field_the_api_server_defaults_still_finds_our_item() -> None:
    desired = {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}}
    key = 'k:{"port":80,"protocol":"TCP"}'
    fields = {"f:spec": {"f:ports": {key: {".": LEAF, "f:port": LEAF}}}}
    live: Manifest = {
        "metadata": {"name": "s", "managedFields": [_entry(fields)]},
        "spec": {"ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}]},
    }
    assert not FIELDS.differs(desired, live)
    live["spec"]["ports"][0]["port"] = 81
    assert FIELDS.differs(desired, live)


@pytest.mark.parametrize(
    ("desired", "live", "expected"),
    [
        (["a", "b"], ["b", "x", "a"], False),
        (["a"], ["a", "b"], True),
        (["a", "b", "c"], ["a", "b", "c"], True),
    ],
    ids=["members-in-any-order", "member-no-longer-set", "member-not-owned-yet"],
)
def test_set_lists_compare_their_members(desired: list[str], live: list[str], expected: bool) -> None:
    fields = {"f:metadata": {"f:finalizers": {'v:"a"': LEAF, 'v:"b"': LEAF}}}
    obj = {"metadata": {"name": "x", "finalizers": live, "managedFields": [_entry(fields)]}}
    assert FIELDS.differs({"metadata": {"name": "x", "finalizers": desired}}, obj) is expected


# --- replicas handover, takeover, cache ---------------------------------------------------------------


def test_replicas_we_release_are_handed_over_at_their_live_value() -> None:
    live, desired = _live(), copy.deepcopy(DESIRED)
    live["spec"]["replicas"] = 3
    del desired["spec"]["replicas"]
    assert replicas_handover(desired, live) == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "ns", "uid": "x"},
        "spec": {"replicas": 3},
    }


def test_no_handover_unless_we_release_replicas_we_own() -> None:
    live, desired = _live(), copy.deepcopy(DESIRED)
    assert replicas_handover(desired, live) is None, "replicas still set"
    del desired["spec"]["replicas"]
    _disown("f:spec", "f:replicas")(live)
    assert replicas_handover(desired, live) is None, "replicas already an autoscaler's"


def test_the_takeover_patch_drops_only_what_earlier_versions_left() -> None:
    applied = _live()
    applied["metadata"]["annotations"] = {LEGACY_HASH: "abc", "note": "kept"}
    legacy = _entry({"f:spec": {"f:replicas": LEAF}}, operation="Update")
    handover = _entry({"f:spec": {"f:replicas": LEAF}}, HANDOVER_MANAGER)
    applied["metadata"]["managedFields"] += [legacy, handover]
    assert FIELDS.has_update_entry(applied)
    patch = takeover_patch(applied)
    assert patch == {
        "metadata": {
            "resourceVersion": "7",
            "managedFields": _live()["metadata"]["managedFields"] + [handover],
            "annotations": {LEGACY_HASH: None},
        }
    }


def test_the_cache_keeps_only_our_managed_fields_entries() -> None:
    live = _live()
    live["metadata"]["managedFields"].append(_entry({"f:spec": LEAF}, operation="Update", time="t"))
    kept = FIELDS.slim(copy.deepcopy(live))
    assert kept["metadata"]["managedFields"] == [
        {"manager": FIELD_MANAGER, "operation": "Apply", "fieldsV1": OWNED},
        {"manager": FIELD_MANAGER, "operation": "Update"},
    ]
    assert not FIELDS.differs(DESIRED, kept) and FIELDS.has_update_entry(kept)
    foreign = FIELDS.slim({"metadata": {"managedFields": [_entry({}, "kubectl")]}})
    assert foreign == {"metadata": {}}


# --- ownership ---------------------------------------------------------------------------------------


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
