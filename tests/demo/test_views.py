"""What the demo shows: defaults the webhook added, children grouped into a tree, aligned tables."""

from __future__ import annotations

import io
from typing import Any

from demo.terminal import Console
from demo.views import added_fields, group_of, table, tree
from shared import labels

PLAIN = Console(io.StringIO(), color=False, live=False)


def obj(kind: str, name: str, component: str = "") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {labels.COMPONENT: component} if component else {}}
    return {"kind": kind, "metadata": meta}


def test_added_fields_lists_only_what_the_stored_object_gained() -> None:
    applied = {"metadata": {"name": "m"}, "spec": {"engine": {}, "decode": {"replicas": 2}}}
    stored = {
        "metadata": {
            "name": "m",
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}", "recorded": "m"},
        },
        "spec": {"engine": {"image": "vllm:1", "port": 8000}, "decode": {"replicas": 2}},
    }

    assert added_fields(applied, stored) == [
        "metadata.annotations[recorded]: m",
        "spec.engine.image: vllm:1",
        "spec.engine.port: 8000",
    ]


def test_children_are_grouped_by_what_they_do() -> None:
    children = [
        obj("Deployment", "m-decode", labels.COMPONENT_DECODE),
        obj("Deployment", "m-epp", labels.COMPONENT_EPP),
        obj("HTTPRoute", "m"),
        obj("PodMonitor", "m-decode"),
        obj("ClusterRole", "ns-m-epp"),
    ]

    assert [group_of(c) for c in children] == ["serving", "EPP", "routing", "monitoring", "cluster-scoped"]


def test_the_tree_draws_groups_in_order_with_box_drawing_branches() -> None:
    children = [obj("ClusterRole", "ns-m-epp"), obj("Deployment", "m-decode", labels.COMPONENT_DECODE)]

    lines = tree(PLAIN, "ModelService ns/m", children)

    assert lines == [
        "ModelService ns/m  (2 children)",
        "├─ serving",
        "│  └─ Deployment/m-decode   0/1 ready",
        "└─ cluster-scoped",
        "   └─ ClusterRole/ns-m-epp",
    ]


def test_table_columns_align_on_the_widest_cell() -> None:
    lines = table(PLAIN, ("A", "B"), [[("long value", ()), ("x", ())], [("s", ()), ("y", ())]])

    assert lines == ["A           B", "long value  x", "s           y"]
