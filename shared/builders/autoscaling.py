"""What a pod group's autoscaler scales on: vLLM's own metrics and the user's, as targets per pod.

vLLM exports its scheduler state per engine with the labels `model_name` and `engine`
(`vllm/v1/metrics/loggers.py`): `vllm:num_requests_waiting` (requests queued, not yet running) and
`vllm:kv_cache_usage_perc` (the KV cache in use, 1 meaning 100 %; it replaced the deprecated
`vllm:gpu_cache_usage_perc`). Both engines scale on averages per pod:

- a HorizontalPodAutoscaler reads Pods metrics from the custom metrics API. A Prometheus adapter
  serves them there, and metric names there cannot carry vLLM's colon, so the adapter rule in the
  README renames `vllm:<name>` to `vllm_<name>` (`ADAPTER_NAMES`);
- a KEDA ScaledObject queries Prometheus itself, for the group's total; its `AverageValue` metric
  type divides that by the number of pods. The built-in queries select the series the operator's
  PodMonitor of the group scrapes, whose `job` label is `<namespace>/<PodMonitor name>`.

Targets are quantities. The API server stores a HorizontalPodAutoscaler's in canonical form
(`0.8` comes back as `800m`), so they are written in that form, or every comparison with the live
object would find a difference; KEDA reads its thresholds as plain decimals.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from shared import names
from shared.api import AutoscalingEngine, AutoscalingSpec, ModelService
from shared.builders import serving
from shared.kube_types import parse_quantity
from shared.names import Role

REQUESTS_WAITING = "vllm:num_requests_waiting"
KV_CACHE_USAGE = "vllm:kv_cache_usage_perc"
ADAPTER_NAMES = {series: series.replace(":", "_") for series in (REQUESTS_WAITING, KV_CACHE_USAGE)}
"""vLLM's series name -> the metric's name in the custom metrics API (the adapter rule's rename)."""

# Kubernetes' decimal SI suffixes by power of ten (k8s.io/apimachinery resource.Quantity).
_SUFFIXES = {-3: "m", 0: "", 3: "k", 6: "M", 9: "G", 12: "T", 15: "P", 18: "E"}


@dataclass(frozen=True)
class Target:
    """One metric the autoscaler keeps at `value` per pod."""

    name: str
    """The metric's name in the custom metrics API (HPA), and the trigger's name (KEDA)."""
    value: Decimal
    series: str | None
    """vLLM's series for the built-in targets; None for a metric of the user's."""
    query: str | None
    """The user's PromQL for the group's total (KEDA only); None for the built-in targets."""


def scaled_by(ms: ModelService, role: Role, engine: AutoscalingEngine) -> AutoscalingSpec | None:
    """The autoscaling of `role` when `engine` does the scaling; None otherwise."""
    role_spec = serving.role_spec(ms, role)
    scaling = role_spec.autoscaling if role_spec is not None else None
    return scaling if scaling is not None and scaling.engine == engine else None


def targets(scaling: AutoscalingSpec) -> list[Target]:
    """The targets in a fixed order: requests waiting, KV-cache usage, then the user's metrics."""
    found = [
        Target(ADAPTER_NAMES[series], parse_quantity(value), series, None)
        for series, value in (
            (REQUESTS_WAITING, scaling.requests_waiting),
            (KV_CACHE_USAGE, scaling.kv_cache_usage),
        )
        if value is not None
    ]
    found += (Target(m.name, parse_quantity(m.average_value), None, m.query) for m in scaling.metrics or ())
    return found


def group_total_query(ms: ModelService, role: Role, series: str) -> str:
    """PromQL for the sum of `series` over one group's pods, as the operator's PodMonitor scrapes them."""
    namespace = ms.metadata.namespace
    job = f"{namespace}/{names.pod_monitor_name(ms, role)}"
    return f'sum({series}{{namespace="{namespace}",job="{job}"}})'


def canonical_quantity(value: Decimal) -> str:
    """The text the API server stores for a quantity of this value written in decimal SI form.

    Kubernetes keeps the mantissa integral with an exponent that is a multiple of three (`0.8` is
    `800m`, `2000` is `2k`, `1500` stays `1500`). Targets are rounded up to thousandths, the
    precision autoscalers compare in (validation admits no finer ones).
    """
    mantissa = int((value * 1000).to_integral_value(rounding=ROUND_CEILING))
    if mantissa == 0:
        return "0"
    exponent = -3
    while mantissa % 10 == 0:
        mantissa //= 10
        exponent += 1
    while exponent % 3:
        mantissa *= 10
        exponent -= 1
    if exponent not in _SUFFIXES:  # beyond exa: Kubernetes writes an exponent
        return f"{mantissa}e{exponent}"
    return f"{mantissa}{_SUFFIXES[exponent]}"


def plain_decimal(value: Decimal) -> str:
    """A quantity as KEDA reads a threshold: a plain decimal number (`0.8`, `5`, `1500`)."""
    return format(value.normalize(), "f")
