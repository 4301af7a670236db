"""Discovery documents (/version, /api, /apis, resource lists) and a minimal OpenAPI v3.

Only legacy (unaggregated) discovery is served: clients that ask for the aggregated format get
plain JSON and fall back, as they do against older servers. The OpenAPI v3 documents carry just
enough for kubectl: each resource's PATCH operation with its group-version-kind and the
`fieldValidation` query parameter, which tells kubectl to leave field validation to the server
instead of downloading OpenAPI v2 for client-side validation.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from localcluster.registry import ALL_VERBS, STATUS_VERBS, Registry, ResourceType

Manifest = dict[str, Any]
SERVER_VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0-localcluster",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2025-01-01T00:00:00Z",
    "goVersion": "go1.23.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def api_versions(address: str) -> Manifest:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}],
    }


def _group(name: str, versions: list[str]) -> Manifest:
    entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": entries, "preferredVersion": entries[0]}


def api_group_list(registry: Registry) -> Manifest:
    groups = [_group(name, versions) for name, versions in sorted(registry.group_versions().items()) if name]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(registry: Registry, name: str) -> Manifest | None:
    versions = registry.group_versions().get(name)
    if not name or not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name, versions)}


def _resource(rt: ResourceType) -> list[Manifest]:
    main: Manifest = {
        "name": rt.plural,
        "singularName": rt.singular,
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": list(ALL_VERBS),
    }
    if rt.short_names:
        main["shortNames"] = list(rt.short_names)
    if rt.categories:
        main["categories"] = list(rt.categories)
    main["storageVersionHash"] = hashlib.sha256(
        f"{rt.group}/{rt.storage_version}/{rt.kind}".encode()
    ).hexdigest()[:11]
    out = [main]
    if rt.status_subresource:
        out.append(
            {
                "name": f"{rt.plural}/status",
                "singularName": "",
                "namespaced": rt.namespaced,
                "kind": rt.kind,
                "verbs": list(STATUS_VERBS),
            }
        )
    return out


def resource_list(registry: Registry, group: str, version: str) -> Manifest | None:
    types = sorted(registry.in_group_version(group, version), key=lambda rt: rt.plural)
    if not types:
        return None
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": [entry for rt in types for entry in _resource(rt)],
    }


def _gv_path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def openapi_v3_doc(registry: Registry, group: str, version: str) -> Manifest | None:
    types = registry.in_group_version(group, version)
    if not types:
        return None
    paths: Manifest = {}
    param = {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": True}}
    for rt in types:
        gvk = {"group": rt.group, "version": version, "kind": rt.kind}
        prefix = f"/{_gv_path(group, version)}/" + ("namespaces/{namespace}/" if rt.namespaced else "")
        op = {
            "x-kubernetes-group-version-kind": gvk,
            "parameters": [param],
            "responses": {"200": {"description": "OK"}},
        }
        paths[f"{prefix}{rt.plural}/{{name}}"] = {"patch": op, "put": op}
        paths[f"{prefix}{rt.plural}"] = {"post": op}
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": SERVER_VERSION["gitVersion"]},
        "paths": paths,
        "components": {"schemas": {}},
    }


def openapi_v3_root(registry: Registry) -> Manifest:
    paths: Manifest = {}
    for group, versions in registry.group_versions().items():
        for version in versions:
            doc = openapi_v3_doc(registry, group, version)
            digest = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16].upper()
            path = _gv_path(group, version)
            paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
    return {"paths": paths}
