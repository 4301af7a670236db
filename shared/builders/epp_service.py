"""The EPP Service: the ext-proc endpoint the gateway calls and the metrics endpoint Prometheus scrapes.

The health port is not exposed; the kubelet probes it on the pod directly.
"""

from __future__ import annotations

from shared import labels, names
from shared.api import ModelService
from shared.builders import defaults, meta
from shared.builders.epp_deployment import METRICS_PORT
from shared.builders.meta import Manifest
from shared.settings import OperatorSettings


def build_epp_service(ms: ModelService, settings: OperatorSettings) -> Manifest | None:
    """The EPP Service; always wanted. Target ports are numbers, as the reference sets them."""
    port = defaults.epp_port(defaults.effective_endpoint_picker(ms, settings))
    spec: Manifest = {
        "selector": labels.epp_selector_labels(ms),
        "ports": [
            {"name": "grpc-ext-proc", "port": port, "targetPort": port, "protocol": "TCP"},
            {"name": "http-metrics", "port": METRICS_PORT, "targetPort": METRICS_PORT, "protocol": "TCP"},
        ],
    }
    metadata = meta.object_meta(ms, names.epp_name(ms), labels.epp_meta_labels(ms, settings.version))
    return meta.manifest("v1", "Service", metadata, spec=spec)
