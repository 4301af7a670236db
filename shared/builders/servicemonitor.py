"""The EPP ServiceMonitor: scrapes the Endpoint Picker's scheduling metrics.

Unlike the PodMonitors it is opt-in: only an explicit inferencePool with
``monitoring.podMonitor.enabled: true`` creates it. With metrics auth on, Prometheus authenticates
with the EPP ServiceAccount's token from the metrics-reader Secret.
"""

from __future__ import annotations

from shared import labels, names
from shared.api import ModelService
from shared.builders import meta
from shared.builders.meta import Manifest
from shared.builders.podmonitor import API_VERSION
from shared.settings import OperatorSettings


def wants_service_monitor(ms: ModelService) -> bool:
    """An explicit inferencePool and an explicit ``monitoring.podMonitor.enabled: true``."""
    pod_monitor = ms.spec.monitoring.pod_monitor if ms.spec.monitoring is not None else None
    return ms.spec.inference_pool is not None and pod_monitor is not None and pod_monitor.enabled


def build_service_monitor(ms: ModelService, settings: OperatorSettings) -> Manifest | None:
    """The EPP ServiceMonitor, or None when it is not wanted (then it is removed)."""
    if not wants_service_monitor(ms):
        return None
    endpoint: Manifest = {"port": "http-metrics", "interval": "30s"}
    if settings.metrics_endpoint_auth:
        endpoint["authorization"] = {"credentials": {"name": names.epp_secret_name(ms), "key": "token"}}
    spec: Manifest = {"selector": {"matchLabels": labels.epp_selector_labels(ms)}, "endpoints": [endpoint]}
    metadata = meta.object_meta(ms, names.epp_name(ms), labels.epp_meta_labels(ms, settings.version))
    return meta.manifest(API_VERSION, "ServiceMonitor", metadata, spec=spec)
