"""Schema conformance of generated Kubernetes objects, without a cluster.

``validate_child(obj, team_data_dir)`` returns every reason the API server would reject ``obj``
(an empty list means it conforms):

- core kinds: the strict Kubernetes 1.35 OpenAPI schemas bundled with ``kubernetes-validate``
  (unknown fields, types, required fields); a kind it has no schema for is a failure, which also
  catches a wrong apiVersion;
- custom resources (InferencePool, HTTPRoute, DestinationRule, PodMonitor, ServiceMonitor): the
  upstream CRD schema from team data, prepared as the API server applies it (``crdschema``);
  their metadata is checked against the strict core ObjectMeta schema;
- KEDA's ScaledObject the same way, against a stand-in CRD of KEDA's documented fields
  (``tests/support/crds``): team data holds no KEDA schema;
- for both, the API-server-only rules of ``apichecks`` (names, labels, enums, ports, selectors).

Reused by the builder, reconciler and end-to-end tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate

from tests.support import apichecks, crdschema

KUBERNETES_VERSION = "1.35"
CRD_GROUPS = frozenset(
    {
        "inference.networking.k8s.io",
        "inference.networking.x-k8s.io",
        "gateway.networking.k8s.io",
        "networking.istio.io",
        "monitoring.coreos.com",
        "keda.sh",
    }
)
STAND_IN_CRDS = Path(__file__).resolve().parent / "crds"
"""CRDs written from a project's documentation where team data has none (KEDA)."""
STAND_IN_GROUPS = frozenset({"keda.sh"})


def crd_dir(team_data_dir: Path, group: str = "") -> Path:
    return STAND_IN_CRDS if group in STAND_IN_GROUPS else team_data_dir / "schemas" / "crds"


def is_custom_resource(obj: dict[str, Any]) -> bool:
    group, _, _ = str(obj.get("apiVersion", "")).rpartition("/")
    return group in CRD_GROUPS


def validate_core(obj: dict[str, Any]) -> list[str]:
    """Strict schema validation of a built-in kind; no schema for the kind is a failure."""
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.SchemaNotFoundError as e:
        return [
            f"no Kubernetes {KUBERNETES_VERSION} schema for {obj.get('apiVersion')} {obj.get('kind')}: {e}"
        ]
    except kubernetes_validate.ValidationError as e:
        path = ".".join(str(p) for p in e.path) or "<root>"
        return [f"{path}: {e.message}"]
    return []


def validate_metadata(obj: dict[str, Any]) -> list[str]:
    """A custom resource's metadata against the strict core ObjectMeta (CRDs declare it as any object)."""
    carrier = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj.get("metadata") or {}}
    return validate_core(carrier)


def validate_child(obj: dict[str, Any], team_data_dir: Path) -> list[str]:
    """Every reason the API server would reject ``obj``; empty when it conforms."""
    errors = apichecks.check_object(obj)
    if is_custom_resource(obj):
        errors += validate_metadata(obj)
        group = str(obj.get("apiVersion", "")).rpartition("/")[0]
        errors += crdschema.validate_custom_resource(obj, crd_dir(team_data_dir, group))
    else:
        errors += validate_core(obj)
    return errors
