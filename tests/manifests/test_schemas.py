"""Every object we ship validates strictly against the Kubernetes 1.35 schemas.

Built-in kinds go through kubernetes-validate (unknown fields, types, required fields; a missing
schema is a failure, which also catches a wrong apiVersion). Third-party kinds it has no schema
for (ServiceMonitor, cert-manager Issuer and Certificate) get a structural check of the fields
their controllers require; with team data present, rendered objects also go through the shared
schema-conformance harness (upstream ServiceMonitor CRD, API-server-only rules). Patch files are
partial objects, so they are checked in the rendered output of each flavour instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import kubernetes_validate
import pytest

from tests.manifests import layout
from tests.manifests.layout import MANIFESTS, Manifest
from tests.support import schemacheck

KUBERNETES_VERSION = "1.35"
FLAVOURS = ["base", "cert-manager", "default", "monitoring", "self-signed"]


def service_monitor_problems(obj: Manifest) -> Iterator[str]:
    spec = obj.get("spec") or {}
    if not (spec.get("selector") or {}).get("matchLabels"):
        yield "spec.selector.matchLabels: required (a ServiceMonitor without it selects nothing)"
    endpoints = spec.get("endpoints") or []
    if not endpoints:
        yield "spec.endpoints: required"
    for i, endpoint in enumerate(endpoints):
        if not isinstance(endpoint.get("port"), str):
            yield f"spec.endpoints[{i}].port: the Service port name is required"
        if endpoint.get("scheme", "http") not in ("http", "https"):
            yield f"spec.endpoints[{i}].scheme: must be http or https"


def issuer_problems(obj: Manifest) -> Iterator[str]:
    spec = obj.get("spec") or {}
    kinds = [k for k in ("selfSigned", "ca", "acme", "vault", "venafi") if k in spec]
    if len(kinds) != 1:
        yield f"spec: exactly one issuer type is required, found {kinds}"


def certificate_problems(obj: Manifest) -> Iterator[str]:
    spec = obj.get("spec") or {}
    if not spec.get("secretName"):
        yield "spec.secretName: required"
    if not (spec.get("issuerRef") or {}).get("name"):
        yield "spec.issuerRef.name: required"
    if not spec.get("dnsNames"):
        yield "spec.dnsNames: required (the API server connects by Service DNS name)"
    if "server auth" not in (spec.get("usages") or ["server auth"]):
        yield "spec.usages: must include server auth"


STRUCTURAL: dict[tuple[str, str], Callable[[Manifest], Iterator[str]]] = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): service_monitor_problems,
    ("cert-manager.io/v1", "Issuer"): issuer_problems,
    ("cert-manager.io/v1", "Certificate"): certificate_problems,
}


def problems(obj: Manifest) -> list[str]:
    """Why the API server (or the kind's controller) would reject `obj`; empty if it conforms."""
    metadata = obj.get("metadata") or {}
    if not metadata.get("name"):
        return ["metadata.name: required"]
    check = STRUCTURAL.get((obj.get("apiVersion", ""), obj.get("kind", "")))
    if check is not None:
        return list(check(obj))
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        return [f"no Kubernetes {KUBERNETES_VERSION} schema for {obj.get('apiVersion')} {obj.get('kind')}"]
    except kubernetes_validate.ValidationError as e:
        return [f"{'.'.join(map(str, e.path)) or '<root>'}: {e.message}"]
    return []


def _resource_documents() -> list[tuple[Path, int, Manifest]]:
    return [
        (path, i, doc)
        for path in layout.resource_files()
        if path not in layout.GENERATED
        for i, doc in enumerate(layout.load_docs(MANIFESTS / path))
    ]


RESOURCE_DOCUMENTS = _resource_documents()


@pytest.mark.parametrize(
    ("path", "index", "obj"),
    RESOURCE_DOCUMENTS,
    ids=[f"{p}#{i}-{o.get('kind')}" for p, i, o in RESOURCE_DOCUMENTS],
)
def test_resource_file_document_validates_strictly(path: Path, index: int, obj: Manifest) -> None:
    assert problems(obj) == []


@pytest.mark.parametrize("flavour", FLAVOURS, ids=FLAVOURS)
def test_rendered_flavour_validates_strictly(flavour: str, flavours: dict[str, list[Manifest]]) -> None:
    found = {
        f"{o['kind']}/{o['metadata']['name']}": errors for o in flavours[flavour] if (errors := problems(o))
    }
    assert found == {}


@pytest.mark.parametrize("flavour", FLAVOURS, ids=FLAVOURS)
def test_rendered_flavour_passes_the_api_server_rules(
    flavour: str, flavours: dict[str, list[Manifest]], team_data_dir: Path
) -> None:
    # cert-manager's CRDs are not in team data; their structural check above stands in.
    found = {
        f"{o['kind']}/{o['metadata']['name']}": errors
        for o in flavours[flavour]
        if o["apiVersion"] != "cert-manager.io/v1"
        and (errors := schemacheck.validate_child(o, team_data_dir))
    }
    assert found == {}


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        (
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "x"}, "automount": True},
            "automount",
        ),
        ({"apiVersion": "apps/v1beta1", "kind": "Deployment", "metadata": {"name": "x"}}, "no Kubernetes"),
        (
            {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor", "metadata": {"name": "x"}},
            "spec.selector",
        ),
        (
            {"apiVersion": "cert-manager.io/v1", "kind": "Issuer", "metadata": {"name": "x"}, "spec": {}},
            "exactly one issuer type",
        ),
        (
            {
                "apiVersion": "cert-manager.io/v1",
                "kind": "Certificate",
                "metadata": {"name": "x"},
                "spec": {},
            },
            "spec.secretName",
        ),
    ],
    ids=[
        "unknown-field",
        "retired-api-version",
        "monitor-without-selector",
        "issuer-without-type",
        "bare-cert",
    ],
)
def test_checker_rejects_a_broken_object(obj: Manifest, reason: str) -> None:
    assert any(reason in p for p in problems(obj)), problems(obj)
