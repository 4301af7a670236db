"""Minimal CRDs for the third-party kinds the operator writes but does not own.

A cluster that runs the operator for real has Gateway API, the Inference Extension, Istio and the
Prometheus operator installed with their full schemas (the tests install exactly those), and KEDA
where a ModelService autoscales with it. The demo must run on a fresh clone without them, so it
registers these stand-ins: the same groups, kinds, versions and names, with open schemas that
store whatever the operator writes.
"""

from __future__ import annotations

from typing import Any

Manifest = dict[str, Any]

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
    ("keda.sh", "ScaledObject", "scaledobjects", ("v1alpha1",), ("so",), (), True),
)


def _approval(group: str) -> dict[str, str]:
    """Groups under k8s.io need an API review link, or the API server refuses the CRD; these
    stand-ins are not that reviewed API, and say so in the form the server accepts."""
    if group.endswith(".k8s.io"):
        return {"api-approved.kubernetes.io": "unapproved, a stand-in for a local demo cluster"}
    return {}


def third_party_crds() -> list[Manifest]:
    """Minimal CRDs (open schemas) for InferencePool, HTTPRoute, DestinationRule, monitors and KEDA's
    ScaledObject."""
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
                "metadata": {"name": f"{plural}.{group}", "annotations": _approval(group)},
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
