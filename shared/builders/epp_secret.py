"""The EPP metrics-reader token Secret: the bearer token Prometheus sends to the EPP's /metrics.

Kubernetes fills ``data.token`` for the annotated ServiceAccount. As in the reference, provider
``gke`` gets no token Secret, and without an explicit inferencePool there is none either.
"""

from __future__ import annotations

from shared import labels, names
from shared.api import ModelService
from shared.builders import meta
from shared.builders.meta import Manifest
from shared.settings import OperatorSettings

SERVICE_ACCOUNT_ANNOTATION = "kubernetes.io/service-account.name"


def wants_epp_secret(ms: ModelService, settings: OperatorSettings) -> bool:
    """An explicit inferencePool, metrics auth on, and a provider other than gke."""
    return (
        ms.spec.inference_pool is not None and settings.metrics_endpoint_auth and settings.provider != "gke"
    )


def build_epp_secret(ms: ModelService, settings: OperatorSettings) -> Manifest | None:
    """The token Secret, or None when it is not wanted (then it is removed)."""
    if not wants_epp_secret(ms, settings):
        return None
    metadata = meta.object_meta(
        ms,
        names.epp_secret_name(ms),
        labels.epp_meta_labels(ms, settings.version),
        annotations={SERVICE_ACCOUNT_ANNOTATION: names.epp_name(ms)},
    )
    return meta.manifest("v1", "Secret", metadata, type="kubernetes.io/service-account-token")
