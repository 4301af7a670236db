"""The RBAC matcher the manifest tests rely on follows the API server's rule semantics."""

from __future__ import annotations

import pytest

from tests.manifests import rbac_rules
from tests.manifests.layout import Manifest
from tests.manifests.rbac_rules import Request

DEPLOYMENTS: Manifest = {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list"]}
ANY_STATUS: Manifest = {"apiGroups": ["apps"], "resources": ["*/status"], "verbs": ["get"]}
NAMED: Manifest = {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["a"], "verbs": ["get"]}
WILDCARD: Manifest = {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}
METRICS: Manifest = {"nonResourceURLs": ["/metrics"], "verbs": ["get"]}
HEALTH_PREFIX: Manifest = {"nonResourceURLs": ["/health*"], "verbs": ["get"]}


@pytest.mark.parametrize(
    ("rule", "request_", "allowed"),
    [
        (DEPLOYMENTS, Request("get", "apps", "deployments"), True),
        (DEPLOYMENTS, Request("delete", "apps", "deployments"), False),
        (DEPLOYMENTS, Request("get", "", "deployments"), False),
        (DEPLOYMENTS, Request("get", "apps", "deployments/status"), False),
        (ANY_STATUS, Request("get", "apps", "deployments/status"), True),
        (ANY_STATUS, Request("get", "apps", "deployments"), False),
        (NAMED, Request("get", "", "configmaps", "a"), True),
        (NAMED, Request("get", "", "configmaps", "b"), False),
        (NAMED, Request("get", "", "configmaps"), False),
        (WILDCARD, Request("escalate", "rbac.authorization.k8s.io", "roles"), True),
        (WILDCARD, Request("get", path="/metrics"), False),
        (METRICS, Request("get", path="/metrics"), True),
        (METRICS, Request("get", path="/metrics/extra"), False),
        (METRICS, Request("get", "", "metrics"), False),
        (HEALTH_PREFIX, Request("get", path="/healthz"), True),
    ],
    ids=[
        "listed-verb",
        "unlisted-verb",
        "other-group",
        "subresource-needs-its-own-grant",
        "star-slash-subresource",
        "star-slash-subresource-is-not-the-parent",
        "resource-name-listed",
        "resource-name-not-listed",
        "resource-names-deny-unnamed-requests",
        "wildcards-match-everything",
        "resource-wildcards-do-not-match-urls",
        "exact-url",
        "exact-url-is-not-a-prefix",
        "url-rule-is-not-a-resource-rule",
        "url-prefix",
    ],
)
def test_rule_matching(rule: Manifest, request_: Request, allowed: bool) -> None:
    assert rbac_rules.rule_allows(rule, request_) is allowed


def test_granting_a_wildcard_needs_a_wildcard() -> None:
    assert rbac_rules.not_covered([DEPLOYMENTS], [{**DEPLOYMENTS, "verbs": ["*"]}]) == ["* apps/deployments"]


def test_granting_a_subset_is_covered() -> None:
    assert rbac_rules.not_covered([DEPLOYMENTS, METRICS], [{**DEPLOYMENTS, "verbs": ["list"]}, METRICS]) == []
