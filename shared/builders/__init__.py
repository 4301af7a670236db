"""Every child of a ModelService, built as plain dicts by pure functions.

``build_all`` is the one entry point for the reconciler and the CLI: it applies the operator's
image defaults to a copy, runs every builder in the reference's ensure order and splits the result
into objects that must exist and children that must not. Each builder has the signature
``build_<child>(ms, settings) -> Manifest | None``; ``None`` means "not wanted", and the child then
appears in ``DesiredState.absent`` under the name it would have had.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from shared import names
from shared.api import ModelService
from shared.builders import (
    defaults,
    deployment,
    destinationrule,
    epp_cluster_rbac,
    epp_configmap,
    epp_deployment,
    epp_rbac,
    epp_secret,
    epp_service,
    epp_serviceaccount,
    hpa,
    httproute,
    inferencepool,
    podmonitor,
    scaledobject,
    servicemonitor,
)
from shared.builders.meta import CLUSTER_SCOPED_KINDS, Manifest
from shared.settings import OperatorSettings

__all__ = [
    "AUTOSCALERS",
    "AUTOSCALER_KINDS",
    "BUILDERS",
    "OWNED_KINDS",
    "ChildRef",
    "DesiredState",
    "Manifest",
    "build_all",
    "ref_of",
]

Builder = Callable[[ModelService, OperatorSettings], Manifest | None]
NameOf = Callable[[ModelService], str]


@dataclass(frozen=True)
class ChildRef:
    """Identity of one child: enough to get or delete it."""

    api_version: str
    kind: str
    name: str
    namespace: str | None
    """None for cluster-scoped kinds."""


@dataclass(frozen=True)
class DesiredState:
    """What the cluster must look like for one ModelService."""

    objects: tuple[Manifest, ...]
    """Every child that must exist, in ensure order."""
    absent: tuple[ChildRef, ...]
    """Children that must not exist (never one of ``objects``)."""


@dataclass(frozen=True)
class ChildKind:
    """One row of the build table: the builder and the identity its child has when not wanted."""

    build: Builder
    api_version: str
    kind: str
    name_of: NameOf

    def ref(self, ms: ModelService) -> ChildRef:
        """The child's identity for ``ms``, whether or not it is wanted."""
        namespace = None if self.kind in CLUSTER_SCOPED_KINDS else ms.metadata.namespace
        return ChildRef(self.api_version, self.kind, self.name_of(ms), namespace)


def _never(ms: ModelService, settings: OperatorSettings) -> Manifest | None:
    """The legacy InferencePool named like the EPP: older reference versions made it; it must go."""
    return None


def _prefill_monitor_name(ms: ModelService) -> str:
    return names.pod_monitor_name(ms, "prefill")


def _decode_monitor_name(ms: ModelService) -> str:
    return names.pod_monitor_name(ms, "decode")


_RBAC = epp_rbac.RBAC_API_VERSION
_POOL = inferencepool.API_VERSION
_MON = podmonitor.API_VERSION
_KEDA = scaledobject.API_VERSION

# The reference's ensure order (reconcile step 5): the pool comes after its EPP, routing after the
# pool, and optional integrations last so a missing third-party CRD cannot block serving.
BUILDERS: tuple[ChildKind, ...] = (
    ChildKind(deployment.build_decode_deployment, "apps/v1", "Deployment", names.decode_name),
    ChildKind(deployment.build_prefill_deployment, "apps/v1", "Deployment", names.prefill_name),
    ChildKind(epp_serviceaccount.build_epp_service_account, "v1", "ServiceAccount", names.epp_name),
    ChildKind(epp_configmap.build_epp_configmap, "v1", "ConfigMap", names.epp_configmap_name),
    ChildKind(epp_deployment.build_epp_deployment, "apps/v1", "Deployment", names.epp_name),
    ChildKind(epp_service.build_epp_service, "v1", "Service", names.epp_name),
    ChildKind(epp_secret.build_epp_secret, "v1", "Secret", names.epp_secret_name),
    ChildKind(epp_rbac.build_epp_role, _RBAC, "Role", names.epp_name),
    ChildKind(epp_rbac.build_epp_role_binding, _RBAC, "RoleBinding", names.epp_name),
    ChildKind(epp_cluster_rbac.build_epp_cluster_role, _RBAC, "ClusterRole", names.epp_cluster_rbac_name),
    ChildKind(
        epp_cluster_rbac.build_epp_cluster_role_binding,
        _RBAC,
        "ClusterRoleBinding",
        names.epp_cluster_rbac_name,
    ),
    ChildKind(_never, _POOL, inferencepool.KIND, names.legacy_pool_name),
    ChildKind(inferencepool.build_inference_pool, _POOL, inferencepool.KIND, names.inference_pool_name),
    ChildKind(httproute.build_http_route, httproute.API_VERSION, "HTTPRoute", names.http_route_name),
    ChildKind(
        destinationrule.build_destination_rule, destinationrule.API_VERSION, "DestinationRule", names.epp_name
    ),
    ChildKind(podmonitor.build_decode_pod_monitor, _MON, "PodMonitor", _decode_monitor_name),
    ChildKind(podmonitor.build_prefill_pod_monitor, _MON, "PodMonitor", _prefill_monitor_name),
    ChildKind(servicemonitor.build_service_monitor, _MON, "ServiceMonitor", names.epp_name),
    # Autoscalers after their Deployments; KEDA is optional, like the integrations above.
    ChildKind(hpa.build_decode_hpa, hpa.API_VERSION, hpa.KIND, names.decode_name),
    ChildKind(hpa.build_prefill_hpa, hpa.API_VERSION, hpa.KIND, names.prefill_name),
    ChildKind(scaledobject.build_decode_scaled_object, _KEDA, scaledobject.KIND, names.decode_name),
    ChildKind(scaledobject.build_prefill_scaled_object, _KEDA, scaledobject.KIND, names.prefill_name),
)

AUTOSCALERS = {
    "hpa": (hpa.API_VERSION, hpa.KIND),
    "keda": (scaledobject.API_VERSION, scaledobject.KIND),
}
"""(apiVersion, kind) of the child each `autoscaling.engine` makes, named like the Deployment."""
AUTOSCALER_KINDS = frozenset(kind for _, kind in AUTOSCALERS.values())
"""Kinds that scale a serving Deployment; at most one of them may target it at a time."""


OWNED_KINDS: tuple[tuple[str, str], ...] = tuple(dict.fromkeys((c.api_version, c.kind) for c in BUILDERS))
"""Every (apiVersion, kind) a ModelService can have as a child, in ensure order: what to watch and prune."""


def ref_of(manifest: Manifest) -> ChildRef:
    """The identity of a built (or live) object."""
    metadata = manifest["metadata"]
    kind = manifest["kind"]
    namespace = None if kind in CLUSTER_SCOPED_KINDS else metadata.get("namespace", "")
    return ChildRef(manifest["apiVersion"], kind, metadata["name"], namespace)


def build_all(ms: ModelService, settings: OperatorSettings) -> DesiredState:
    """Every child of ``ms``: the wanted objects in ensure order, and the unwanted ones by identity.

    1. Apply the operator's image defaults to a copy (the input is never modified).
    2. Run every builder in ensure order; a result is wanted, None is absent.
    3. Drop absent entries that collide with a wanted object (a recorded base name can make the
       legacy pool's name equal the pool's), so nothing is deleted that is also desired.
    """
    resolved = defaults.apply_image_defaults(ms, settings)
    objects: list[Manifest] = []
    absent: list[ChildRef] = []
    for child in BUILDERS:
        built = child.build(resolved, settings)
        if built is None:
            absent.append(child.ref(resolved))
        else:
            objects.append(built)
    wanted = {ref_of(obj) for obj in objects}
    return DesiredState(tuple(objects), tuple(dict.fromkeys(r for r in absent if r not in wanted)))
