"""CustomResourceDefinition handling: validation, defaulting, status, and third-party stubs.

A CRD written through the API is checked for the fields the server needs (group, names, scope,
exactly one storage version, a schema per version), defaulted (singular, listKind), and given the
status the real server converges to: `NamesAccepted` and `Established` true right away, accepted
names, stored versions. `third_party_crds()` returns minimal, open-schema CRDs for the kinds the
operator creates but does not own, so a demo cluster needs no upstream CRD files.
"""

from __future__ import annotations

from typing import Any

from localcluster import errors, validation
from localcluster.errors import FieldError

Manifest = dict[str, Any]


def default(crd: Manifest) -> None:
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        return
    names = spec.get("names")
    if isinstance(names, dict) and isinstance(names.get("kind"), str):
        names.setdefault("singular", names["kind"].lower())
        names.setdefault("listKind", names["kind"] + "List")
    spec.setdefault("scope", "Namespaced")
    spec.setdefault("conversion", {"strategy": "None"})


def validate(crd: Manifest) -> list[FieldError]:
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        return [errors.required("spec", "")]
    errs: list[FieldError] = []
    group = spec.get("group")
    if not group:
        errs.append(errors.required("spec.group", ""))
    elif "." not in group:
        errs.append(errors.invalid("spec.group", group, "should be a domain with at least one dot"))
    names: Manifest = spec["names"] if isinstance(spec.get("names"), dict) else {}
    for key in ("plural", "kind"):
        if not names.get(key):
            errs.append(errors.required(f"spec.names.{key}", ""))
    plural = names.get("plural")
    if isinstance(plural, str) and plural:
        errs.extend(errors.invalid("spec.names.plural", plural, m) for m in validation.dns1123_label(plural))
    if plural and group and crd["metadata"].get("name") != f"{plural}.{group}":
        errs.append(
            errors.invalid(
                "metadata.name", crd["metadata"].get("name"), 'must be spec.names.plural+"."+spec.group'
            )
        )
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        errs.append(errors.not_supported("spec.scope", spec.get("scope"), ["Cluster", "Namespaced"]))
    errs.extend(_validate_versions(spec.get("versions")))
    return errs


def _validate_versions(versions: Any) -> list[FieldError]:
    if not isinstance(versions, list) or not versions:
        return [
            errors.invalid(
                "spec.versions", versions, "must have exactly one version marked as storage version"
            )
        ]
    errs: list[FieldError] = []
    storage = 0
    for i, version in enumerate(versions):
        path = f"spec.versions[{i}]"
        if not isinstance(version, dict) or not version.get("name"):
            errs.append(errors.required(f"{path}.name", ""))
            continue
        storage += bool(version.get("storage"))
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        if not isinstance(schema, dict):
            errs.append(errors.required(f"{path}.schema.openAPIV3Schema", "schemas are required"))
        elif schema.get("type") != "object":
            errs.append(
                errors.invalid(
                    f"{path}.schema.openAPIV3Schema.type", schema.get("type"), "must be object at the root"
                )
            )
    if storage != 1:
        errs.append(
            errors.invalid(
                "spec.versions", storage, "must have exactly one version marked as storage version"
            )
        )
    return errs


def status(crd: Manifest, previous: Manifest | None, now: str) -> Manifest:
    """The status the real server converges to; conditions keep their transition times."""
    spec = crd["spec"]
    stored = list((previous or {}).get("status", {}).get("storedVersions") or [])
    storage = next(v["name"] for v in spec["versions"] if v.get("storage"))
    if storage not in stored:
        stored.append(storage)
    old_conditions = {c.get("type"): c for c in ((previous or {}).get("status", {}).get("conditions") or ())}

    def condition(kind: str, reason: str, message: str) -> Manifest:
        since = old_conditions.get(kind, {}).get("lastTransitionTime", now)
        return {
            "type": kind,
            "status": "True",
            "lastTransitionTime": since,
            "reason": reason,
            "message": message,
        }

    return {
        "conditions": [
            condition("NamesAccepted", "NoConflicts", "no conflicts found"),
            condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        ],
        "acceptedNames": dict(spec["names"]),
        "storedVersions": stored,
    }


OPEN_SCHEMA: Manifest = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}

# (group, kind, plural, versions (storage first), short names, categories, status subresource)
_THIRD_PARTY: tuple[tuple[str, str, str, tuple[str, ...], tuple[str, ...], tuple[str, ...], bool], ...] = (
    ("inference.networking.k8s.io", "InferencePool", "inferencepools", ("v1",), ("infpool",), (), True),
    ("gateway.networking.k8s.io", "HTTPRoute", "httproutes", ("v1", "v1beta1"), (), ("gateway-api",), True),
    (
        "networking.istio.io",
        "DestinationRule",
        "destinationrules",
        ("v1", "v1beta1", "v1alpha3"),
        ("dr",),
        ("istio-io", "networking-istio-io"),
        True,
    ),
    (
        "monitoring.coreos.com",
        "PodMonitor",
        "podmonitors",
        ("v1",),
        ("pmon",),
        ("prometheus-operator",),
        True,
    ),
    (
        "monitoring.coreos.com",
        "ServiceMonitor",
        "servicemonitors",
        ("v1",),
        ("smon",),
        ("prometheus-operator",),
        True,
    ),
)


def third_party_crds() -> list[Manifest]:
    """Minimal CRDs (open schemas) for InferencePool, HTTPRoute, DestinationRule and monitors."""
    out = []
    for group, kind, plural, versions, short, categories, has_status in _THIRD_PARTY:
        names: Manifest = {
            "plural": plural,
            "singular": kind.lower(),
            "kind": kind,
            "listKind": kind + "List",
        }
        if short:
            names["shortNames"] = list(short)
        if categories:
            names["categories"] = list(categories)
        out.append(
            {
                "apiVersion": "apiextensions.k8s.io/v1",
                "kind": "CustomResourceDefinition",
                "metadata": {"name": f"{plural}.{group}"},
                "spec": {
                    "group": group,
                    "scope": "Namespaced",
                    "names": names,
                    "versions": [
                        {
                            "name": version,
                            "served": True,
                            "storage": i == 0,
                            "schema": {"openAPIV3Schema": OPEN_SCHEMA},
                            **({"subresources": {"status": {}}} if has_status else {}),
                        }
                        for i, version in enumerate(versions)
                    ],
                },
            }
        )
    return out
