"""Resource types the server knows: the built-in kinds plus every CRD created through the API.

A `ResourceType` is the server's view of one REST resource (`deployments.apps`): names, scope,
served versions, the storage version, and for custom resources the per-version schema and
printer columns. The `Registry` answers lookups by path segments (group, version, plural) and by
kind, and it is rebuilt incrementally whenever a CustomResourceDefinition is written or deleted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

Manifest = dict[str, Any]
ResKey = tuple[str, str]  # (group, plural)

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
STATUS_VERBS = ("get", "patch", "update")


@dataclass(frozen=True, slots=True)
class PrinterColumn:
    """An `additionalPrinterColumns` entry of a CRD version (or a built-in column)."""

    name: str
    type: str
    json_path: str
    description: str = ""
    priority: int = 0
    format: str = ""


@dataclass(frozen=True, slots=True)
class ResourceType:
    """One REST resource, e.g. `deployments` in `apps` (`apps/v1` is its only version)."""

    group: str
    versions: tuple[str, ...]
    storage_version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    status_subresource: bool = False
    custom: bool = False
    schemas: Mapping[str, Manifest | None] = field(default_factory=dict)
    columns: Mapping[str, tuple[PrinterColumn, ...]] = field(default_factory=dict)

    @property
    def key(self) -> ResKey:
        return (self.group, self.plural)

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def qualified(self) -> str:
        """`deployments.apps` or `configmaps`: the resource as error messages name it."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def api_version(self, version: str | None = None) -> str:
        version = version or self.storage_version
        return f"{self.group}/{version}" if self.group else version

    def schema(self, version: str) -> Manifest | None:
        return self.schemas.get(version)


def _builtin(
    group: str,
    version: str,
    plural: str,
    kind: str,
    namespaced: bool = True,
    short_names: tuple[str, ...] = (),
    categories: tuple[str, ...] = (),
    status: bool = False,
) -> ResourceType:
    return ResourceType(
        group=group,
        versions=(version,),
        storage_version=version,
        plural=plural,
        singular=kind.lower(),
        kind=kind,
        namespaced=namespaced,
        short_names=short_names,
        categories=categories,
        status_subresource=status,
    )


BUILTINS: tuple[ResourceType, ...] = (
    _builtin("", "v1", "namespaces", "Namespace", False, ("ns",), status=True),
    _builtin("", "v1", "pods", "Pod", True, ("po",), ("all",), status=True),
    _builtin("", "v1", "services", "Service", True, ("svc",), ("all",), status=True),
    _builtin("", "v1", "serviceaccounts", "ServiceAccount", True, ("sa",)),
    _builtin("", "v1", "configmaps", "ConfigMap", True, ("cm",)),
    _builtin("", "v1", "secrets", "Secret"),
    _builtin("", "v1", "events", "Event", True, ("ev",)),
    _builtin("apps", "v1", "deployments", "Deployment", True, ("deploy",), ("all",), status=True),
    _builtin("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    _builtin("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    _builtin("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    _builtin("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    _builtin("coordination.k8s.io", "v1", "leases", "Lease"),
    _builtin("events.k8s.io", "v1", "events", "Event", True, ("ev",)),
    _builtin(
        "admissionregistration.k8s.io",
        "v1",
        "mutatingwebhookconfigurations",
        "MutatingWebhookConfiguration",
        False,
        categories=("api-extensions",),
    ),
    _builtin(
        "admissionregistration.k8s.io",
        "v1",
        "validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration",
        False,
        categories=("api-extensions",),
    ),
    _builtin(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        False,
        ("crd", "crds"),
        ("api-extensions",),
        status=True,
    ),
)

CRD_KEY: ResKey = ("apiextensions.k8s.io", "customresourcedefinitions")
NAMESPACES_KEY: ResKey = ("", "namespaces")


def _columns(version: Manifest) -> tuple[PrinterColumn, ...]:
    return tuple(
        PrinterColumn(
            name=str(col.get("name", "")),
            type=str(col.get("type", "string")),
            json_path=str(col.get("jsonPath", "")),
            description=str(col.get("description", "")),
            priority=int(col.get("priority", 0) or 0),
            format=str(col.get("format", "")),
        )
        for col in version.get("additionalPrinterColumns") or ()
    )


def from_crd(crd: Manifest) -> ResourceType:
    """Build the resource type a (validated) CustomResourceDefinition serves."""
    spec = crd["spec"]
    names = spec["names"]
    served = [v for v in spec["versions"] if v.get("served")]
    storage = next(v["name"] for v in spec["versions"] if v.get("storage"))
    return ResourceType(
        group=spec["group"],
        versions=tuple(v["name"] for v in served),
        storage_version=storage,
        plural=names["plural"],
        singular=names.get("singular") or names["kind"].lower(),
        kind=names["kind"],
        namespaced=spec.get("scope", "Namespaced") == "Namespaced",
        short_names=tuple(names.get("shortNames") or ()),
        categories=tuple(names.get("categories") or ()),
        status_subresource=any("status" in (v.get("subresources") or {}) for v in served),
        custom=True,
        schemas={v["name"]: (v.get("schema") or {}).get("openAPIV3Schema") for v in spec["versions"]},
        columns={v["name"]: _columns(v) for v in spec["versions"]},
    )


_KUBE_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(version: str) -> tuple[int, int, int, str]:
    """Sort key putting GA before beta before alpha, newer first, odd names last (like kube)."""
    match = _KUBE_VERSION.match(version)
    if match is None:
        return (3, 0, 0, version)
    major, stage, minor = match.groups()
    rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (rank, -int(major), -int(minor or 0), version)


class Registry:
    """Lookup tables over built-in and custom resource types."""

    def __init__(self) -> None:
        self._types: dict[ResKey, ResourceType] = {}
        self.generation = 0  # bumped on every change so discovery caches can be keyed on it
        for rt in BUILTINS:
            self._add(rt)

    def _add(self, rt: ResourceType) -> None:
        self._types[rt.key] = rt
        self.generation += 1

    def install(self, rt: ResourceType) -> None:
        self._add(rt)

    def uninstall(self, key: ResKey) -> ResourceType | None:
        self.generation += 1
        return self._types.pop(key, None)

    def __iter__(self) -> Iterator[ResourceType]:
        return iter(self._types.values())

    def get(self, key: ResKey) -> ResourceType | None:
        return self._types.get(key)

    def require(self, key: ResKey) -> ResourceType:
        """A type that must exist (the built-ins); KeyError names it otherwise."""
        rt = self._types.get(key)
        if rt is None:
            raise KeyError(f"resource {key[1]}.{key[0]} is not served")
        return rt

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        """The type served at `/apis/{group}/{version}/{plural}`, if any."""
        rt = self._types.get((group, plural))
        if rt is None or version not in rt.versions:
            return None
        return rt

    def by_kind(self, group: str, kind: str) -> ResourceType | None:
        for rt in self._types.values():
            if rt.group == group and rt.kind == kind:
                return rt
        return None

    def for_api_version(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        rt = self.by_kind(group, kind)
        return rt if rt is not None and version in rt.versions else None

    def group_versions(self) -> dict[str, list[str]]:
        """Group name → served versions, most preferred first (Kubernetes version priority)."""
        out: dict[str, set[str]] = {}
        for rt in self._types.values():
            out.setdefault(rt.group, set()).update(rt.versions)
        return {group: sorted(versions, key=version_priority) for group, versions in out.items()}

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [rt for rt in self._types.values() if rt.group == group and version in rt.versions]
