"""The Istio DestinationRule: lets the mesh reach the EPP's TLS ext-proc endpoint.

The EPP serves ext-proc over TLS with a self-signed certificate, so the rule originates TLS and
skips verification (as the reference does). Only made with provider ``istio``.
"""

from __future__ import annotations

from shared import labels, names
from shared.api import ModelService
from shared.builders import meta
from shared.builders.meta import Manifest
from shared.settings import OperatorSettings

API_VERSION = "networking.istio.io/v1beta1"


def build_destination_rule(ms: ModelService, settings: OperatorSettings) -> Manifest | None:
    """The DestinationRule for the EPP Service host, or None unless the provider is istio."""
    if settings.provider != "istio":
        return None
    name = names.epp_name(ms)
    spec: Manifest = {
        "host": f"{name}.{ms.metadata.namespace}.svc.cluster.local",
        "trafficPolicy": {"tls": {"mode": "SIMPLE", "insecureSkipVerify": True}},
    }
    metadata = meta.object_meta(ms, name, labels.epp_meta_labels(ms, settings.version))
    return meta.manifest(API_VERSION, "DestinationRule", metadata, spec=spec)
