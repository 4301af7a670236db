"""The HTTPRoute: requests carrying ``OtterScale-Model-Name: NAME`` go to the model's InferencePool.

An explicit ``spec.httpRoute`` names its Gateway; otherwise the operator's default gateway (if one
is configured) gets a default route, and with neither the route is removed.
"""

from __future__ import annotations

from shared import labels, names
from shared.api import HTTPRouteSpec, ModelService
from shared.builders import meta
from shared.builders.meta import Manifest
from shared.settings import OperatorSettings

API_VERSION = "gateway.networking.k8s.io/v1"
GATEWAY_GROUP = "gateway.networking.k8s.io"
MODEL_HEADER = "OtterScale-Model-Name"
POOL_GROUP = "inference.networking.k8s.io"


def _rule(ms: ModelService) -> Manifest:
    """Match the model header (the ModelService name, not the served model name) under any path."""
    return {
        "matches": [
            {
                "headers": [{"type": "Exact", "name": MODEL_HEADER, "value": ms.metadata.name}],
                "path": {"type": "PathPrefix", "value": "/"},
            }
        ],
        "backendRefs": [
            {"group": POOL_GROUP, "kind": "InferencePool", "name": names.inference_pool_name(ms)}
        ],
    }


def _explicit_parent(ms: ModelService, route: HTTPRouteSpec) -> tuple[Manifest, list[str]]:
    """parentRef from ``spec.httpRoute`` (namespace only when it differs) and its hostnames."""
    parent: Manifest = {"name": route.gateway_ref.name}
    namespace = route.gateway_ref.namespace
    if namespace and namespace != ms.metadata.namespace:
        parent["namespace"] = namespace
    return parent, list(route.hostnames or ())


def _default_parent(settings: OperatorSettings) -> Manifest:
    return {
        "group": GATEWAY_GROUP,
        "kind": "Gateway",
        "name": settings.default_gateway_name,
        "namespace": settings.default_gateway_namespace,
    }


def build_http_route(ms: ModelService, settings: OperatorSettings) -> Manifest | None:
    """The explicit or default route; None when there is neither (then it is removed)."""
    hostnames: list[str] = []
    if ms.spec.http_route is not None:
        parent, hostnames = _explicit_parent(ms, ms.spec.http_route)
    elif settings.default_gateway_name:
        parent = _default_parent(settings)
    else:
        return None
    spec: Manifest = {"parentRefs": [parent]}
    if hostnames:
        spec["hostnames"] = hostnames
    spec["rules"] = [_rule(ms)]
    metadata = meta.object_meta(ms, names.http_route_name(ms), labels.pool_meta_labels(ms, settings.version))
    return meta.manifest(API_VERSION, "HTTPRoute", metadata, spec=spec)
