"""RBAC rules as data, and the API server's rule matching, for tests about what a role allows.

`load_rules(kind, name)` reads a Role or ClusterRole from the shipped manifests, so tests check the
YAML a cluster would get. `allows(rules, request)` follows the RBAC authorizer's matching
(wildcards, `*/subresource`, resourceNames, non-resource URL prefixes); `requests_of(rule)` expands a
rule into the single requests it permits, which is how escalation prevention compares rule sets:
a subject may grant a rule only if it is allowed every request the rule permits.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from tests.manifests import layout
from tests.manifests.layout import MANIFESTS, Manifest

RBAC_DIR = MANIFESTS / "rbac"


@dataclass(frozen=True)
class Request:
    """One authorization question: a resource request (group, resource[/subresource], name) or,
    with `path` set, a non-resource URL request."""

    verb: str
    group: str = ""
    resource: str = ""
    name: str = ""
    path: str = ""

    def __str__(self) -> str:
        if self.path:
            return f"{self.verb} {self.path}"
        group = self.group or "core"
        return f"{self.verb} {group}/{self.resource}" + (f" {self.name}" if self.name else "")


def load_rules(kind: str, name: str) -> list[Manifest]:
    """The rules of the Role or ClusterRole `name` shipped under manifests/rbac/."""
    found = [
        doc
        for path in sorted(RBAC_DIR.glob("*.yaml"))
        if path.name != layout.KUSTOMIZATION
        for doc in layout.load_docs(path)
        if doc["kind"] == kind and doc["metadata"]["name"] == name
    ]
    assert len(found) == 1, f"expected one {kind} {name} under {RBAC_DIR}, found {len(found)}"
    rules: list[Manifest] = found[0].get("rules") or []
    return rules


def _resource_matches(rule_resource: str, resource: str) -> bool:
    if rule_resource in ("*", resource):
        return True
    _, _, subresource = resource.partition("/")
    return bool(subresource) and rule_resource == f"*/{subresource}"


def _path_matches(rule_path: str, path: str) -> bool:
    if rule_path.endswith("*"):
        return path.startswith(rule_path[:-1])
    return rule_path == path


def rule_allows(rule: Manifest, request: Request) -> bool:
    verbs = rule.get("verbs") or []
    if "*" not in verbs and request.verb not in verbs:
        return False
    if request.path:
        return any(_path_matches(p, request.path) for p in rule.get("nonResourceURLs") or [])
    groups = rule.get("apiGroups") or []
    if "*" not in groups and request.group not in groups:
        return False
    if not any(_resource_matches(r, request.resource) for r in rule.get("resources") or []):
        return False
    names = rule.get("resourceNames") or []
    return not names or request.name in names


def allows(rules: Iterable[Manifest], request: Request) -> bool:
    """Whether any rule permits `request` (RBAC is a union of grants, there are no denies)."""
    return any(rule_allows(rule, request) for rule in rules)


def requests_of(rule: Manifest) -> Iterator[Request]:
    """Every single request `rule` permits (for resourceNames rules: one per name)."""
    verbs = rule.get("verbs") or []
    for path in rule.get("nonResourceURLs") or []:
        yield from (Request(verb, path=path) for verb in verbs)
    for group in rule.get("apiGroups") or []:
        for resource in rule.get("resources") or []:
            for name in rule.get("resourceNames") or [""]:
                yield from (Request(verb, group, resource, name) for verb in verbs)


def not_covered(holder: Iterable[Manifest], granted: Iterable[Manifest]) -> list[str]:
    """Requests in `granted` rules that `holder` rules do not allow (empty: the grant is legal)."""
    held = list(holder)
    return [str(r) for rule in granted for r in requests_of(rule) if not allows(held, r)]
