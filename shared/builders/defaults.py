"""Operator-wide defaults applied to a copy of a ModelService before its children are built.

Image defaults come from operator settings at every reconcile and are never written back, so
changing the operator's default image rolls every ModelService that did not pin one (the reference
behaves the same way). The object read from the cache is frozen and is never modified.

``model_copy(update=...)`` does not validate, so every update below passes a fully built model of
the right type, never a dict.
"""

from __future__ import annotations

from shared.api import EndpointPickerSpec, ModelService
from shared.settings import OperatorSettings

DEFAULT_EPP_PORT = 9002


def apply_image_defaults(ms: ModelService, settings: OperatorSettings) -> ModelService:
    """A copy of ``ms`` with empty engine, routing-proxy and EPP images set from ``settings``."""
    spec = ms.spec
    engine = spec.engine
    if not engine.image:
        engine = engine.model_copy(update={"image": settings.default_engine_image})
    proxy = spec.routing_proxy
    if proxy is not None and not proxy.image:
        proxy = proxy.model_copy(update={"image": settings.default_routing_proxy_image})
    pool = spec.inference_pool
    if pool is not None and not pool.endpoint_picker.image:
        picker = pool.endpoint_picker.model_copy(update={"image": settings.default_epp_image})
        pool = pool.model_copy(update={"endpoint_picker": picker})
    if engine is spec.engine and proxy is spec.routing_proxy and pool is spec.inference_pool:
        return ms
    new_spec = spec.model_copy(update={"engine": engine, "routing_proxy": proxy, "inference_pool": pool})
    return ms.model_copy(update={"spec": new_spec})


def default_replicas(replicas: int | None) -> int:
    """Replicas as the reference reads them: absent means 1, and 0 is kept (scaled to zero)."""
    return 1 if replicas is None else replicas


def effective_endpoint_picker(ms: ModelService, settings: OperatorSettings) -> EndpointPickerSpec:
    """The EPP settings in force: the explicit ones, or the synthetic default EPP.

    Without ``spec.inferencePool`` the reference still deploys an EPP with the default image, one
    replica and port 9002, so every ModelService is routable through its pool.
    """
    pool = ms.spec.inference_pool
    if pool is None:
        return EndpointPickerSpec(image=settings.default_epp_image, replicas=1, port=DEFAULT_EPP_PORT)
    picker = pool.endpoint_picker
    if not picker.image:
        picker = picker.model_copy(update={"image": settings.default_epp_image})
    return picker


def epp_port(picker: EndpointPickerSpec) -> int:
    """The EPP's ext-proc port; the reference falls back to 9002 for non-positive values."""
    return picker.port if picker.port > 0 else DEFAULT_EPP_PORT


def epp_replicas(ms: ModelService) -> int:
    """EPP replicas as the Deployment and the Role see them (0 is allowed, absent means 1)."""
    pool = ms.spec.inference_pool
    return default_replicas(pool.endpoint_picker.replicas if pool is not None else None)
