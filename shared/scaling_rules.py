"""Rules on how a pod group scales and rolls: `replicas`, `autoscaling` and `rolloutStrategy`.

Part of validation layer 3, beside `shared.spec_rules` (`shared.validation` runs both). Each
finding names the field to change. What Kubernetes would refuse in the children is refused here
first, at the ModelService's own path: a rollout strategy as the Deployment validation judges it
(non-negative integers or percentages, not both zero), a HorizontalPodAutoscaler's metric names,
a minimum of at least one pod. What only the operator decides is refused too: `replicas` beside
`autoscaling` (the autoscaler owns the count), scale to zero without KEDA, a KEDA trigger without
a Prometheus to ask.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from urllib.parse import urlsplit

from shared.api import AutoscalingSpec, IntOrString, ModelServiceSpec, RolloutStrategy
from shared.builders import autoscaling, rollout
from shared.kube_types import parse_quantity
from shared.spec_rules import FORBIDDEN, REQUIRED, FieldError

DUPLICATE = "FieldValueDuplicate"
_PERCENT = re.compile(r"^[0-9]+%$")
_INT32_MAX = 2**31 - 1
MAX_TARGET = Decimal(10) ** 15
"""Largest target accepted (1P): beyond it Kubernetes no longer writes a quantity with a suffix."""
KUBERNETES_ROLLING_UPDATE = {"maxSurge": "25%", "maxUnavailable": "25%"}
"""What the Deployment defaulting fills in for fields the operator leaves unset (CPU pods)."""


def scaling_rules(spec: ModelServiceSpec) -> Iterator[FieldError]:
    """Every finding on the replicas, autoscaling and rollout strategy of decode and prefill."""
    for role_name, role in (("decode", spec.decode), ("prefill", spec.prefill)):
        if role is None:
            continue
        path = f"spec.{role_name}"
        if role.autoscaling is not None:
            if role.replicas is not None:
                yield FieldError(
                    f"{path}.replicas",
                    f"Forbidden: may not be set together with {path}.autoscaling: the autoscaler owns the "
                    "replica count (a ModelService stored before autoscaling existed carries replicas: 1 "
                    "from the former schema default; remove it in the same change)",
                    FORBIDDEN,
                )
            yield from autoscaling_rules(role.autoscaling, f"{path}.autoscaling")
        if role.rollout_strategy is not None:
            accelerated = spec.accelerator.type != "cpu"
            yield from rollout_rules(role.rollout_strategy, f"{path}.rolloutStrategy", accelerated)


def scaling_warnings(spec: ModelServiceSpec) -> Iterator[str]:
    """Values the operator accepts but ignores, and setups that cannot work as written."""
    monitors_off = (
        spec.monitoring is not None
        and spec.monitoring.pod_monitor is not None
        and not spec.monitoring.pod_monitor.enabled
    )
    for role_name, role in (("decode", spec.decode), ("prefill", spec.prefill)):
        scaling = role.autoscaling if role is not None else None
        if scaling is not None:
            yield from _autoscaling_warnings(scaling, f"spec.{role_name}.autoscaling", monitors_off)


def _autoscaling_warnings(scaling: AutoscalingSpec, path: str, monitors_off: bool) -> Iterator[str]:
    builtin = scaling.requests_waiting is not None or scaling.kv_cache_usage is not None
    if scaling.engine == "hpa":
        if scaling.prometheus_address:
            yield f"{path}.prometheusAddress: used only with engine keda; ignored"
        for i, metric in enumerate(scaling.metrics or ()):
            if metric.query:
                yield (
                    f"{path}.metrics[{i}].query: used only with engine keda; the HPA reads {metric.name!r} "
                    "from the custom metrics API"
                )
        return
    if scaling.min_replicas == 0 and not scaling.metrics:
        yield (
            f"{path}.minReplicas: 0 with vLLM's own metrics only: they vanish with the last pod, so "
            "nothing would scale the group up again; add a metric that exists without pods (the "
            "gateway's or the endpoint picker's queue)"
        )
    if builtin and monitors_off:
        yield (
            f"{path}: KEDA's queries for requestsWaiting and kvCacheUsage read the series the operator's "
            "PodMonitor scrapes, and spec.monitoring.podMonitor.enabled is false; scrape the pods "
            "another way and give metrics with queries of your own"
        )


def autoscaling_rules(scaling: AutoscalingSpec, path: str) -> Iterator[FieldError]:
    if scaling.min_replicas > scaling.max_replicas:
        yield FieldError(
            f"{path}.minReplicas",
            f"Invalid value: {scaling.min_replicas}: must be less than or equal to maxReplicas "
            f"({scaling.max_replicas})",
        )
    if scaling.min_replicas == 0 and scaling.engine != "keda":
        yield FieldError(
            f"{path}.minReplicas",
            "Invalid value: 0: only engine keda scales to zero; a HorizontalPodAutoscaler keeps at least "
            "one pod (set engine: keda, or minReplicas of 1 or more)",
        )
    if scaling.requests_waiting is None and scaling.kv_cache_usage is None and not scaling.metrics:
        yield FieldError(
            path,
            "Required value: at least one target: requestsWaiting, kvCacheUsage or metrics",
            REQUIRED,
        )
    if scaling.requests_waiting is not None:
        yield from target_rules(scaling.requests_waiting, f"{path}.requestsWaiting")
    if scaling.kv_cache_usage is not None:
        yield from target_rules(scaling.kv_cache_usage, f"{path}.kvCacheUsage", at_most=Decimal(1))
    yield from _metrics_rules(scaling, path)
    if scaling.engine == "keda":
        yield from _prometheus_rules(scaling.prometheus_address, f"{path}.prometheusAddress")


def _metrics_rules(scaling: AutoscalingSpec, path: str) -> Iterator[FieldError]:
    taken = {t.name for t in autoscaling.targets(scaling) if t.series is not None}
    for i, metric in enumerate(scaling.metrics or ()):
        at = f"{path}.metrics[{i}]"
        if metric.name in (".", "..") or "/" in metric.name or "%" in metric.name:
            yield FieldError(
                f"{at}.name",
                f"Invalid value: {metric.name!r}: a metric name may not be '.' or '..' and may not contain "
                "'/' or '%' (it is a path segment of the custom metrics API)",
            )
        elif metric.name in taken:
            builtin = "requestsWaiting or kvCacheUsage" if metric.name.startswith("vllm_") else "metrics"
            yield FieldError(
                f"{at}.name",
                f"Duplicate value: {metric.name!r}: already a target (from {builtin})",
                DUPLICATE,
            )
        taken.add(metric.name)
        yield from target_rules(metric.average_value, f"{at}.averageValue")
        if scaling.engine == "keda" and not (metric.query or "").strip():
            yield FieldError(
                f"{at}.query",
                "Required value: with engine keda every metric needs a PromQL query for the group's total "
                "(KEDA asks Prometheus, not the custom metrics API)",
                REQUIRED,
            )


def target_rules(text: str, path: str, *, at_most: Decimal = MAX_TARGET) -> Iterator[FieldError]:
    """A target per pod: positive, in thousandths at most (what autoscalers compare), bounded."""
    value = parse_quantity(text)
    shown = _shown(text)
    # Comparisons are exact and cost nothing; no arithmetic on a value that may have thousands of
    # digits or an exponent in the billions (the schema admits both).
    if value <= 0:
        yield FieldError(path, f"Invalid value: {shown}: must be greater than 0")
    elif value > at_most:
        what = "1: vllm:kv_cache_usage_perc is a fraction (1 is 100 %)" if at_most == 1 else "1P (10^15)"
        yield FieldError(path, f"Invalid value: {shown}: must be at most {what}")
    elif _decimal_places(value) > 3:
        yield FieldError(
            path,
            f"Invalid value: {shown}: must be a multiple of 0.001 (1m): autoscalers compare targets in "
            "thousandths",
        )


def _decimal_places(value: Decimal) -> int:
    """Digits after the decimal point, trailing zeros not counted; read off, not computed."""
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # finite: quantities have no NaN or infinity
    trailing = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    return max(0, -(exponent + trailing))


def _prometheus_rules(address: str | None, path: str) -> Iterator[FieldError]:
    if not address:
        yield FieldError(
            path,
            "Required value: engine keda needs the address of the Prometheus server KEDA queries",
            REQUIRED,
        )
        return
    parts = urlsplit(address)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in address):
        yield FieldError(
            path,
            f"Invalid value: {address!r}: must be an http or https URL of a Prometheus server, e.g. "
            "http://prometheus.monitoring.svc:9090",
        )


def rollout_rules(strategy: RolloutStrategy, path: str, accelerated: bool) -> Iterator[FieldError]:
    """As the Deployment validation judges `rollingUpdate`, for the fields in force after defaulting."""
    written = {"maxSurge": strategy.max_surge, "maxUnavailable": strategy.max_unavailable}
    valid = True
    for field, value in written.items():
        if value is not None:
            found = list(int_or_percent_rules(value, f"{path}.{field}"))
            valid = valid and not found
            yield from found
    defaults = rollout.ACCELERATOR_DEFAULT if accelerated else KUBERNETES_ROLLING_UPDATE
    effective = {field: defaults[field] if value is None else value for field, value in written.items()}
    if valid and all(_is_zero(v) for v in effective.values()):
        field = "maxUnavailable" if strategy.max_unavailable is not None else "maxSurge"
        kept = "maxSurge" if field == "maxUnavailable" else "maxUnavailable"
        default = " (the default for pods with accelerators)" if written[kept] is None else ""
        yield FieldError(
            f"{path}.{field}",
            f"Invalid value: {written[field]!r}: may not be 0 when {kept} is 0{default}: a rollout could "
            "neither add nor take away a pod",
        )


def int_or_percent_rules(value: IntOrString, path: str) -> Iterator[FieldError]:
    """A non-negative integer, or a percentage of the pod group up to 100 %."""
    if isinstance(value, int):
        if value < 0:
            yield FieldError(path, f"Invalid value: {value}: must be greater than or equal to 0")
        elif value > _INT32_MAX:
            yield FieldError(path, f"Invalid value: {value}: must be at most {_INT32_MAX}")
    elif not _PERCENT.match(value):
        yield FieldError(
            path,
            f"Invalid value: {_shown(value)}: must be an integer or a percentage: digits followed by '%' "
            "(e.g. '25%')",
        )
    elif len(value[:-1].lstrip("0")) > 3 or int(value[:-1]) > 100:
        yield FieldError(path, f"Invalid value: {_shown(value)}: must not be greater than 100%")


def _shown(text: str) -> str:
    return repr(text) if len(text) <= 40 else repr(text[:37] + "...")


def _is_zero(value: IntOrString) -> bool:
    return value == 0 or (isinstance(value, str) and value.rstrip("%").lstrip("0") == "")
