"""Pure helpers: selector parsing, strategic merge patch directives, printer-column JSONPath, ages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from localcluster import errors, patch, selectors, tables

Manifest = dict[str, Any]


@pytest.mark.parametrize(
    "text",
    ["env in prod", "env notin (a", "=x", "bad key!=x", "a=" + "v" * 64],
    ids=["set-without-parens", "unclosed-set", "missing-key", "bad-key", "long-value"],
)
def test_malformed_label_selectors_raise_400(text: str) -> None:
    with pytest.raises(errors.StatusError) as info:
        selectors.parse_labels(text)
    assert info.value.code == 400


@pytest.mark.parametrize(
    ("target", "patch_body", "expected"),
    [
        (
            {"spec": {"ports": [{"port": 80, "name": "http"}]}},
            {"spec": {"ports": [{"port": 80, "name": "web"}]}},
            {"spec": {"ports": [{"port": 80, "name": "web"}]}},
        ),
        (
            {"metadata": {"finalizers": ["a"]}},
            {"metadata": {"finalizers": ["b"]}},
            {"metadata": {"finalizers": ["a", "b"]}},
        ),
        (
            {"metadata": {"finalizers": ["a", "b"]}},
            {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}},
            {"metadata": {"finalizers": ["b"]}},
        ),
        (
            {"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}},
            {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}},
            {"spec": {"strategy": {"type": "Recreate"}}},
        ),
        (
            {"spec": {"containers": [{"name": "a"}, {"name": "b"}]}},
            {
                "spec": {
                    "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
                    "containers": [{"name": "a", "image": "x"}],
                }
            },
            {"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b"}]}},
        ),
        ({"spec": {"args": ["a", "b"]}}, {"spec": {"args": ["c"]}}, {"spec": {"args": ["c"]}}),
        (
            {"spec": {"selector": {"a": "1"}}},
            {"spec": {"selector": {"$patch": "replace", "b": "2"}}},
            {"spec": {"selector": {"b": "2"}}},
        ),
    ],
    ids=[
        "service-ports-merge-on-port",
        "finalizers-union",
        "delete-from-primitive-list",
        "retain-keys",
        "set-element-order-is-accepted",
        "plain-lists-replace",
        "replace-directive",
    ],
)
def test_strategic_merge_patch_directives(target: Manifest, patch_body: Manifest, expected: Manifest) -> None:
    assert patch.strategic_merge(target, patch_body) == expected


def test_strategic_merge_patch_leaves_its_inputs_alone() -> None:
    target = {"spec": {"containers": [{"name": "a", "image": "x"}]}}
    body = {"spec": {"containers": [{"name": "a", "image": "y"}]}}
    patch.strategic_merge(target, body)
    assert target == {"spec": {"containers": [{"name": "a", "image": "x"}]}}


OBJ: Manifest = {
    "status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "Synced", "status": "False"}]},
    "spec": {"items": [{"n": 1}, {"n": 2}]},
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (".spec.items[1].n", [2]),
        (".spec.items[*].n", [1, 2]),
        ('.status.conditions[?(@.type=="Ready")].status', ["True"]),
        (".spec.missing", []),
    ],
    ids=["index", "wildcard", "filter", "missing"],
)
def test_jsonpath_subset_for_printer_columns(path: str, expected: list[Any]) -> None:
    assert tables.jsonpath(OBJ, path) == expected


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (5, "5s"),
        (150, "2m30s"),
        (3 * 3600, "3h"),
        (26 * 3600, "26h"),
        (3 * 86400 + 3600, "3d1h"),
        (400 * 86400, "400d"),
    ],
    ids=["seconds", "minutes", "hours", "day-in-hours", "days-and-hours", "days"],
)
def test_human_ages_match_kubectl(seconds: int, text: str) -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    then = datetime.fromtimestamp(now.timestamp() - seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert tables.human_age(then, now) == text
