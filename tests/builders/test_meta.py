"""Object metadata: namespace, labels, annotations and the controller owner reference."""

from __future__ import annotations

import pytest

from shared.builders import meta
from tests.builders.factories import make_ms

OWNER = {
    "apiVersion": "model.otterscale.io/v1alpha1",
    "kind": "ModelService",
    "name": "qwen3-0.6b",
    "uid": "U",
    "controller": True,
    "blockOwnerDeletion": True,
}


@pytest.mark.parametrize(
    ("namespace", "uid", "cluster_scoped", "expected"),
    [
        (
            "llm",
            "U",
            False,
            {"name": "x", "namespace": "llm", "labels": {"a": "b"}, "ownerReferences": [OWNER]},
        ),
        ("llm", "", False, {"name": "x", "namespace": "llm", "labels": {"a": "b"}}),
        ("", "", False, {"name": "x", "labels": {"a": "b"}}),
        ("llm", "U", True, {"name": "x", "labels": {"a": "b"}}),
    ],
    ids=[
        "namespaced child is owned by its ModelService",
        "offline render without uid has no owner",
        "offline render without namespace omits it",
        "cluster-scoped child has no namespace and no owner",
    ],
)
def test_object_meta(namespace: str, uid: str, cluster_scoped: bool, expected: dict[str, object]) -> None:
    ms = make_ms(namespace=namespace, uid=uid)
    assert meta.object_meta(ms, "x", {"a": "b"}, cluster_scoped=cluster_scoped) == expected


def test_annotations_are_copied_and_empty_ones_omitted() -> None:
    ms = make_ms()
    assert meta.object_meta(ms, "x", {}, annotations={"k": "v"})["annotations"] == {"k": "v"}
    assert "annotations" not in meta.object_meta(ms, "x", {}, annotations={})


def test_labels_are_a_copy() -> None:
    labels = {"a": "b"}
    built = meta.object_meta(make_ms(), "x", labels)
    built["labels"]["a"] = "changed"
    assert labels == {"a": "b"}


def test_manifest_puts_identity_first() -> None:
    built = meta.manifest("v1", "ConfigMap", {"name": "x"}, data={"k": "v"})
    assert built == {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"k": "v"}}
    assert list(built) == ["apiVersion", "kind", "metadata", "data"]
