"""HorizontalPodAutoscalers for the serving pod groups that ask for `autoscaling` with engine hpa.

Named like the Deployment they scale, with the Deployment as scale target: the HPA controller
changes the replica count through the Deployment's scale subresource, and the Deployment the
operator builds then carries no `replicas` (`shared.builders.deployment`). Every target is a Pods
metric with an average value, as a Prometheus adapter serves it (`shared.builders.autoscaling`).
"""

from __future__ import annotations

from shared import labels, names
from shared.api import ModelService
from shared.builders import autoscaling, meta
from shared.builders.meta import Manifest
from shared.names import Role
from shared.settings import OperatorSettings

API_VERSION = "autoscaling/v2"
KIND = "HorizontalPodAutoscaler"


def build_hpa(ms: ModelService, settings: OperatorSettings, role: Role) -> Manifest | None:
    """The HPA of `role`; None without autoscaling, or when KEDA scales the group."""
    scaling = autoscaling.scaled_by(ms, role, "hpa")
    if scaling is None:
        return None
    name = names.role_deployment_name(ms, role)
    metadata = meta.object_meta(ms, name, labels.serving_meta_labels(ms, role, settings.version))
    spec: Manifest = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
        "minReplicas": scaling.min_replicas,
        "maxReplicas": scaling.max_replicas,
        "metrics": [_pods_metric(t) for t in autoscaling.targets(scaling)],
    }
    return meta.manifest(API_VERSION, KIND, metadata, spec=spec)


def _pods_metric(target: autoscaling.Target) -> Manifest:
    return {
        "type": "Pods",
        "pods": {
            "metric": {"name": target.name},
            "target": {"type": "AverageValue", "averageValue": autoscaling.canonical_quantity(target.value)},
        },
    }


def build_decode_hpa(ms: ModelService, settings: OperatorSettings) -> Manifest | None:
    return build_hpa(ms, settings, "decode")


def build_prefill_hpa(ms: ModelService, settings: OperatorSettings) -> Manifest | None:
    return build_hpa(ms, settings, "prefill")
