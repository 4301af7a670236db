"""Every derived child name, exactly as the reference operator derives them.

Users migrate from the reference operator, so names are never "improved" here; instead
``shared.namecheck`` reports names that Kubernetes would reject, and the reconciler's ownership
check catches two ModelServices whose names sanitize alike. The EPP family derives from a
DNS-1035-sanitized base name, which the webhook records in an annotation at creation so a later
change of the sanitizer can never rename live children.
"""

from __future__ import annotations

import functools
import re
from typing import Literal

from shared import formats
from shared.api import ModelService

Role = Literal["decode", "prefill"]

DNS1035_NAME_ANNOTATION = "model.otterscale.io/dns1035-name"
"""Annotation holding SAN(NAME), recorded by the mutating webhook on CREATE."""

_FALLBACK = "modelservice"


class _Dns1035Table(dict[int, str | None]):
    """`str.translate` table of SAN: A-Z lowered, `._-` to `-`, every other character dropped."""

    def __missing__(self, code: int) -> None:
        return None


_SAN_TABLE = _Dns1035Table(
    {ord(c): c for c in "abcdefghijklmnopqrstuvwxyz0123456789"}
    | {ord(c): c.lower() for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
    | {ord(c): "-" for c in "._-"}
)
_DASHES = re.compile(r"-{2,}")


def sanitize_dns1035(text: str) -> str:
    """The reference's DNS-1035 sanitizer (SAN): lowercase, map ._- to -, drop the rest, no truncation."""
    # Names are derived several times per admission and per reconcile: names of API-server size
    # are remembered (a longer text, possible only in a request made by hand, is not).
    return _sanitize_cached(text) if len(text) <= formats.DNS1123_SUBDOMAIN_MAX else _sanitize(text)


def _sanitize(text: str) -> str:
    result = _DASHES.sub("-", text.translate(_SAN_TABLE).strip("-"))
    if not result:
        return _FALLBACK
    if result[0].isdigit():
        result = "m-" + result
    return result


_sanitize_cached = functools.lru_cache(maxsize=4096)(_sanitize)


def recorded_base_name(ms: ModelService) -> str | None:
    """The sanitized base name the webhook recorded at creation, if any."""
    annotations = ms.metadata.annotations or {}
    return annotations.get(DNS1035_NAME_ANNOTATION)


def base_name(ms: ModelService) -> str:
    """SAN(NAME): the recorded annotation when it holds a DNS-1035 label's characters, else computed."""
    recorded = recorded_base_name(ms)
    # The characters only: a record past the length limit is the name check's to report
    # (`shared.namecheck`), and the children keep the name it records.
    if recorded is not None and formats.DNS1035_LABEL_RE.match(recorded):
        return recorded
    return sanitize_dns1035(ms.metadata.name)


def decode_name(ms: ModelService) -> str:
    return f"{ms.metadata.name}-decode"


def prefill_name(ms: ModelService) -> str:
    return f"{ms.metadata.name}-prefill"


def role_deployment_name(ms: ModelService, role: Role) -> str:
    return decode_name(ms) if role == "decode" else prefill_name(ms)


def inference_pool_name(ms: ModelService) -> str:
    return ms.metadata.name


def http_route_name(ms: ModelService) -> str:
    return ms.metadata.name


def epp_name(ms: ModelService) -> str:
    """Name of the EPP Deployment, Service, ServiceAccount, Role(Binding), DestinationRule, ServiceMonitor."""
    return f"{base_name(ms)}-epp"


def epp_configmap_name(ms: ModelService) -> str:
    return f"{epp_name(ms)}-config"


def epp_secret_name(ms: ModelService) -> str:
    return f"{epp_name(ms)}-sa-metrics-reader-secret"


def epp_cluster_rbac_name(ms: ModelService) -> str:
    """ClusterRole and ClusterRoleBinding: namespace verbatim plus the EPP name."""
    return f"{ms.metadata.namespace}-{epp_name(ms)}"


def legacy_pool_name(ms: ModelService) -> str:
    """An InferencePool name older reference versions used; only ever deleted."""
    return epp_name(ms)


def pod_monitor_name(ms: ModelService, role: Role) -> str:
    return f"{ms.metadata.name}-{role}"
