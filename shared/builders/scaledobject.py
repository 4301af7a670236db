"""KEDA ScaledObjects for the serving pod groups that ask for `autoscaling` with engine keda.

KEDA (`keda.sh/v1alpha1`) is optional, like the other third-party kinds: without its CRD the child
is skipped and the status says so. A ScaledObject is the only way to scale a group to zero: KEDA
itself moves between zero and one pod, and the HPA it creates (`keda-hpa-<name>`) does the rest.
Named like the Deployment it scales. Every target becomes a `prometheus` trigger of metric type
`AverageValue`: KEDA divides the query's result (the group's total) by the number of pods and
compares that with the threshold, a plain decimal string (KEDA docs: ScaledObject specification,
Prometheus scaler).
"""

from __future__ import annotations

from shared import labels, names
from shared.api import AutoscalingSpec, ModelService
from shared.builders import autoscaling, meta
from shared.builders.meta import Manifest
from shared.names import Role
from shared.settings import OperatorSettings

API_VERSION = "keda.sh/v1alpha1"
KIND = "ScaledObject"


def build_scaled_object(ms: ModelService, settings: OperatorSettings, role: Role) -> Manifest | None:
    """The ScaledObject of `role`; None without autoscaling, or when an HPA scales the group."""
    scaling = autoscaling.scaled_by(ms, role, "keda")
    if scaling is None:
        return None
    name = names.role_deployment_name(ms, role)
    metadata = meta.object_meta(ms, name, labels.serving_meta_labels(ms, role, settings.version))
    spec: Manifest = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
        "minReplicaCount": scaling.min_replicas,
        "maxReplicaCount": scaling.max_replicas,
        "triggers": [_trigger(ms, role, scaling, t) for t in autoscaling.targets(scaling)],
    }
    return meta.manifest(API_VERSION, KIND, metadata, spec=spec)


def _trigger(ms: ModelService, role: Role, scaling: AutoscalingSpec, target: autoscaling.Target) -> Manifest:
    if target.series is not None:
        query = autoscaling.group_total_query(ms, role, target.series)
    else:
        query = target.query or ""  # validation requires a query with engine keda
    return {
        "type": "prometheus",
        "name": target.name,
        "metricType": "AverageValue",
        "metadata": {
            "serverAddress": scaling.prometheus_address or "",
            "query": query,
            "threshold": autoscaling.plain_decimal(target.value),
        },
    }


def build_decode_scaled_object(ms: ModelService, settings: OperatorSettings) -> Manifest | None:
    return build_scaled_object(ms, settings, "decode")


def build_prefill_scaled_object(ms: ModelService, settings: OperatorSettings) -> Manifest | None:
    return build_scaled_object(ms, settings, "prefill")
