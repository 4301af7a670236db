"""PodMonitors scraping vLLM metrics of the serving pods, one per role.

Presence semantics are the reference's and deliberately asymmetric: they exist by default and only
an explicit ``monitoring.podMonitor`` with ``enabled`` false turns them off. Each series gets a
``model_service`` label from the pods' name label so dashboards can group by ModelService.
"""

from __future__ import annotations

from shared import labels, names
from shared.api import ModelService
from shared.builders import meta
from shared.builders.meta import Manifest
from shared.names import Role
from shared.settings import OperatorSettings

API_VERSION = "monitoring.coreos.com/v1"


def wants_pod_monitors(ms: ModelService) -> bool:
    """On unless ``spec.monitoring.podMonitor`` is present with ``enabled`` false."""
    pod_monitor = ms.spec.monitoring.pod_monitor if ms.spec.monitoring is not None else None
    return pod_monitor is None or pod_monitor.enabled


def _endpoint(ms: ModelService) -> Manifest:
    pod_monitor = ms.spec.monitoring.pod_monitor if ms.spec.monitoring is not None else None
    port, path, interval = "http", "/metrics", "30s"
    if pod_monitor is not None:
        port = pod_monitor.port_name or port
        path = pod_monitor.path or path
        interval = pod_monitor.interval or interval
    return {
        "port": port,
        "path": path,
        "interval": interval,
        "relabelings": [
            {
                "action": "replace",
                "sourceLabels": ["__meta_kubernetes_pod_label_app_kubernetes_io_name"],
                "targetLabel": "model_service",
            }
        ],
    }


def build_pod_monitor(ms: ModelService, settings: OperatorSettings, role: Role) -> Manifest | None:
    """The PodMonitor of ``role``; None when monitoring is off or the role has no pods."""
    if not wants_pod_monitors(ms) or (role == "prefill" and ms.spec.prefill is None):
        return None
    metadata = meta.object_meta(
        ms, names.pod_monitor_name(ms, role), labels.serving_meta_labels(ms, role, settings.version)
    )
    spec: Manifest = {
        "selector": {"matchLabels": labels.serving_selector_labels(ms, role)},
        "podMetricsEndpoints": [_endpoint(ms)],
    }
    return meta.manifest(API_VERSION, "PodMonitor", metadata, spec=spec)


def build_decode_pod_monitor(ms: ModelService, settings: OperatorSettings) -> Manifest | None:
    return build_pod_monitor(ms, settings, "decode")


def build_prefill_pod_monitor(ms: ModelService, settings: OperatorSettings) -> Manifest | None:
    return build_pod_monitor(ms, settings, "prefill")
