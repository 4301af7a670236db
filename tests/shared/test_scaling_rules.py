"""Scaling rules: replicas beside autoscaling, autoscaler bounds and targets, rollout strategies.

Every invalid case names its exact field path, after the mutating webhook's defaulting, as the
validating webhook sees the object; warnings for values that are accepted but ignored.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared import cli, defaulting, validation
from shared.settings import OperatorSettings
from tests.webhook import samples
from webhook import admission

SETTINGS = OperatorSettings()
HPA: dict[str, Any] = {"maxReplicas": 4, "requestsWaiting": 5}
KEDA: dict[str, Any] = {
    "engine": "keda",
    "maxReplicas": 4,
    "requestsWaiting": 5,
    "prometheusAddress": "http://prometheus.monitoring.svc:9090",
}


def _obj(decode: dict[str, Any], **spec: Any) -> dict[str, Any]:
    obj = samples.with_changes(samples.minimal(), "spec.decode", decode)
    for key, value in spec.items():
        obj = samples.with_changes(obj, f"spec.{key}", value)
    return obj


def _report(obj: dict[str, Any]) -> validation.Report:
    return validation.validate(defaulting.defaulted(obj, SETTINGS), SETTINGS)


def _errors(obj: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e.path, e.message) for e in _report(obj).errors]


VALID: list[tuple[str, dict[str, Any]]] = [
    ("hpa on requests waiting", _obj({"autoscaling": HPA})),
    ("hpa on kv cache usage at 100 %", _obj({"autoscaling": {"maxReplicas": 2, "kvCacheUsage": 1}})),
    (
        "hpa on a metric of your own, in thousandths",
        _obj({"autoscaling": {"maxReplicas": 2, "metrics": [{"name": "tokens", "averageValue": "0.125"}]}}),
    ),
    ("keda scales to zero", _obj({"autoscaling": KEDA | {"minReplicas": 0}})),
    (
        "keda with a metric of your own",
        _obj({"autoscaling": KEDA | {"metrics": [{"name": "q", "averageValue": 3, "query": "sum(q)"}]}}),
    ),
    ("min equals max", _obj({"autoscaling": HPA | {"minReplicas": 4}})),
    ("replicas without autoscaling", _obj({"replicas": 3})),
    ("surge only on GPU pods", _obj({"replicas": 2, "rolloutStrategy": {"maxSurge": 1}})),
    ("zero unavailable with surge", _obj({"rolloutStrategy": {"maxSurge": "25%", "maxUnavailable": 0}})),
    ("percentages up to 100", _obj({"rolloutStrategy": {"maxSurge": "100%", "maxUnavailable": "100%"}})),
    ("leading zeros in a percentage", _obj({"rolloutStrategy": {"maxSurge": "00000000000050%"}})),
    (
        "zero unavailable on CPU pods keeps Kubernetes' surge",
        _obj({"rolloutStrategy": {"maxUnavailable": 0}}, accelerator={"type": "cpu"}),
    ),
]


@pytest.mark.parametrize("obj", [v[1] for v in VALID], ids=[v[0] for v in VALID])
def test_valid_scaling_passes(obj: dict[str, Any]) -> None:
    assert _errors(obj) == []


INVALID: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "replicas beside autoscaling",
        _obj({"replicas": 2, "autoscaling": HPA}),
        "spec.decode.replicas",
        "Forbidden: may not be set together with spec.decode.autoscaling",
    ),
    (
        "min above max",
        _obj({"autoscaling": HPA | {"minReplicas": 5}}),
        "spec.decode.autoscaling.minReplicas",
        "Invalid value: 5: must be less than or equal to maxReplicas (4)",
    ),
    (
        "scale to zero with an HPA",
        _obj({"autoscaling": HPA | {"minReplicas": 0}}),
        "spec.decode.autoscaling.minReplicas",
        "Invalid value: 0: only engine keda scales to zero",
    ),
    (
        "no target at all",
        _obj({"autoscaling": {"maxReplicas": 3}}),
        "spec.decode.autoscaling",
        "Required value: at least one target: requestsWaiting, kvCacheUsage or metrics",
    ),
    (
        "zero target",
        _obj({"autoscaling": HPA | {"requestsWaiting": 0}}),
        "spec.decode.autoscaling.requestsWaiting",
        "Invalid value: '0': must be greater than 0",
    ),
    (
        "negative target",
        _obj({"autoscaling": HPA | {"requestsWaiting": "-2"}}),
        "spec.decode.autoscaling.requestsWaiting",
        "Invalid value: '-2': must be greater than 0",
    ),
    (
        "target finer than thousandths",
        _obj({"autoscaling": HPA | {"requestsWaiting": "0.0005"}}),
        "spec.decode.autoscaling.requestsWaiting",
        "Invalid value: '0.0005': must be a multiple of 0.001 (1m)",
    ),
    (
        "kv cache usage above 1",
        _obj({"autoscaling": {"maxReplicas": 2, "kvCacheUsage": 80}}),
        "spec.decode.autoscaling.kvCacheUsage",
        "Invalid value: '80': must be at most 1: vllm:kv_cache_usage_perc is a fraction",
    ),
    (
        "metric name with a slash",
        _obj({"autoscaling": {"maxReplicas": 2, "metrics": [{"name": "a/b", "averageValue": 1}]}}),
        "spec.decode.autoscaling.metrics[0].name",
        "Invalid value: 'a/b': a metric name may not be '.' or '..' and may not contain '/' or '%'",
    ),
    (
        "metric named like a built-in target",
        _obj({"autoscaling": HPA | {"metrics": [{"name": "vllm_num_requests_waiting", "averageValue": 1}]}}),
        "spec.decode.autoscaling.metrics[0].name",
        "Duplicate value: 'vllm_num_requests_waiting': already a target (from requestsWaiting or "
        "kvCacheUsage)",
    ),
    (
        "keda metric without a query",
        _obj({"autoscaling": KEDA | {"metrics": [{"name": "q", "averageValue": 1}]}}),
        "spec.decode.autoscaling.metrics[0].query",
        "Required value: with engine keda every metric needs a PromQL query",
    ),
    (
        "keda without a Prometheus",
        _obj({"autoscaling": KEDA | {"prometheusAddress": None}}),
        "spec.decode.autoscaling.prometheusAddress",
        "Required value: engine keda needs the address of the Prometheus server KEDA queries",
    ),
    (
        "keda with a Prometheus that is no URL",
        _obj({"autoscaling": KEDA | {"prometheusAddress": "prometheus:9090"}}),
        "spec.decode.autoscaling.prometheusAddress",
        "Invalid value: 'prometheus:9090': must be an http or https URL of a Prometheus server",
    ),
    (
        "a target beyond any exponent",
        _obj({"autoscaling": HPA | {"requestsWaiting": "1e2147483647"}}),
        "spec.decode.autoscaling.requestsWaiting",
        "Invalid value: '1e2147483647': must be at most 1P (10^15)",
    ),
    (
        "a target with thousands of decimals",
        _obj({"autoscaling": HPA | {"requestsWaiting": "0." + "0" * 5000 + "1"}}),
        "spec.decode.autoscaling.requestsWaiting",
        "Invalid value: '0." + "0" * 35 + "...': must be a multiple of 0.001",
    ),
    (
        "a percentage of thousands of digits",
        _obj({"rolloutStrategy": {"maxSurge": "9" * 5000 + "%"}}),
        "spec.decode.rolloutStrategy.maxSurge",
        "Invalid value: '9999999999999999999999999999999999999...': must not be greater than 100%",
    ),
    (
        "both zero",
        _obj({"rolloutStrategy": {"maxSurge": 0, "maxUnavailable": 0}}),
        "spec.decode.rolloutStrategy.maxUnavailable",
        "Invalid value: 0: may not be 0 when maxSurge is 0: a rollout could neither add nor take away a pod",
    ),
    (
        "both zero as percentages",
        _obj({"rolloutStrategy": {"maxSurge": "0%", "maxUnavailable": "0%"}}),
        "spec.decode.rolloutStrategy.maxUnavailable",
        "Invalid value: '0%': may not be 0 when maxSurge is 0",
    ),
    (
        "zero unavailable on GPU pods with the default surge of 0",
        _obj({"rolloutStrategy": {"maxUnavailable": 0}}),
        "spec.decode.rolloutStrategy.maxUnavailable",
        "Invalid value: 0: may not be 0 when maxSurge is 0 (the default for pods with accelerators)",
    ),
    (
        "negative surge",
        _obj({"rolloutStrategy": {"maxSurge": -1}}),
        "spec.decode.rolloutStrategy.maxSurge",
        "Invalid value: -1: must be greater than or equal to 0",
    ),
    (
        "unavailable over 100 %",
        _obj({"rolloutStrategy": {"maxUnavailable": "150%"}}),
        "spec.decode.rolloutStrategy.maxUnavailable",
        "Invalid value: '150%': must not be greater than 100%",
    ),
    (
        "surge over 100 %",
        _obj({"rolloutStrategy": {"maxSurge": "101%"}}),
        "spec.decode.rolloutStrategy.maxSurge",
        "Invalid value: '101%': must not be greater than 100%",
    ),
    (
        "a malformed percentage",
        _obj({"rolloutStrategy": {"maxSurge": "25 %"}}),
        "spec.decode.rolloutStrategy.maxSurge",
        "Invalid value: '25 %': must be an integer or a percentage",
    ),
    (
        "a number as a string",
        _obj({"rolloutStrategy": {"maxUnavailable": "1"}}),
        "spec.decode.rolloutStrategy.maxUnavailable",
        "Invalid value: '1': must be an integer or a percentage",
    ),
    (
        "a float",
        _obj({"rolloutStrategy": {"maxSurge": 0.5}}),
        "spec.decode.rolloutStrategy.maxSurge",
        "Invalid value: 0.5: must be an integer or a string",
    ),
]


@pytest.mark.parametrize(("obj", "path", "message"), [i[1:] for i in INVALID], ids=[i[0] for i in INVALID])
def test_invalid_scaling_is_denied_at_its_path(obj: dict[str, Any], path: str, message: str) -> None:
    found = _errors(obj)
    assert [p for p, _ in found] == [path], found
    assert found[0][1].startswith(message), found[0][1]


def test_prefill_is_judged_at_its_own_path() -> None:
    obj = samples.with_changes(samples.full_pd(), "spec.prefill", {"replicas": 1, "autoscaling": HPA})
    assert [e.path for e in _report(obj).errors] == ["spec.prefill.replicas"]


def test_an_invalid_engine_does_not_also_blame_the_minimum() -> None:
    # The engine is pruned as invalid; judged with the default engine, minReplicas 0 would be
    # blamed for a mistake that is the engine's.
    obj = _obj({"autoscaling": KEDA | {"engine": "KEDA", "minReplicas": 0}})
    assert [e.path for e in _report(obj).errors] == ["spec.decode.autoscaling.engine"]


def test_an_invalid_target_is_not_also_reported_as_missing() -> None:
    obj = _obj({"autoscaling": {"maxReplicas": 2, "requestsWaiting": "lots"}})
    assert [e.path for e in _report(obj).errors] == ["spec.decode.autoscaling.requestsWaiting"]


WARNINGS: list[tuple[str, dict[str, Any], str]] = [
    (
        "an address for an HPA",
        _obj({"autoscaling": HPA | {"prometheusAddress": "http://p:9090"}}),
        "spec.decode.autoscaling.prometheusAddress: used only with engine keda; ignored",
    ),
    (
        "a query for an HPA",
        _obj(
            {"autoscaling": {"maxReplicas": 2, "metrics": [{"name": "q", "averageValue": 1, "query": "q"}]}}
        ),
        "spec.decode.autoscaling.metrics[0].query: used only with engine keda",
    ),
    (
        "scale to zero on vLLM's metrics only",
        _obj({"autoscaling": KEDA | {"minReplicas": 0}}),
        "spec.decode.autoscaling.minReplicas: 0 with vLLM's own metrics only",
    ),
    (
        "keda's built-in queries without PodMonitors",
        _obj({"autoscaling": KEDA}, monitoring={"podMonitor": {"enabled": False}}),
        "spec.decode.autoscaling: KEDA's queries for requestsWaiting and kvCacheUsage read the series",
    ),
]


@pytest.mark.parametrize(("obj", "warning"), [w[1:] for w in WARNINGS], ids=[w[0] for w in WARNINGS])
def test_ignored_or_unworkable_values_are_admitted_with_a_warning(obj: dict[str, Any], warning: str) -> None:
    report = _report(obj)
    assert report.errors == ()
    assert [w for w in report.warnings if w.startswith(warning)], report.warnings


def test_a_plain_autoscaled_object_draws_no_warning() -> None:
    assert _report(_obj({"autoscaling": HPA})).warnings == ()


def test_the_validating_webhook_denies_replicas_beside_autoscaling_at_the_field() -> None:
    obj = defaulting.defaulted(_obj({"replicas": 2, "autoscaling": HPA}), SETTINGS)
    answer = admission.review(samples.review(obj), SETTINGS, "validate")["response"]
    assert answer["allowed"] is False
    causes = answer.get("status", {}).get("details", {}).get("causes", [])
    assert [(c["field"], c["reason"]) for c in causes] == [("spec.decode.replicas", "FieldValueForbidden")]


def test_the_mutating_webhook_leaves_replicas_out_beside_autoscaling() -> None:
    answer = admission.review(samples.review(_obj({"autoscaling": HPA})), SETTINGS, "mutate")["response"]
    patch = json.loads(base64.b64decode(answer["patch"]))
    assert "/spec/decode/replicas" not in [op["path"] for op in patch]
    assert {"op": "add", "path": "/spec/decode/autoscaling/engine", "value": "hpa"} in patch


# --- the offline command line ----------------------------------------------------------------------

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_offline_validate_names_the_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = tmp_path / "both.yaml"
    manifest.write_text(
        yaml.safe_dump(_obj({"replicas": 2, "autoscaling": HPA, "rolloutStrategy": {"maxSurge": -1}}))
    )
    assert cli.main(["validate", str(manifest)]) == 1
    out = capsys.readouterr().out
    assert "spec.decode.replicas: Forbidden: may not be set together with spec.decode.autoscaling" in out
    assert "spec.decode.rolloutStrategy.maxSurge: Invalid value: -1" in out


def test_offline_render_shows_the_autoscaler_and_a_deployment_without_replicas(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["render", "-f", str(EXAMPLES / "autoscaling.yaml")]) == 0
    rendered = [d for d in yaml.safe_load_all(capsys.readouterr().out) if d]
    by_kind = {(d["kind"], d["metadata"]["name"]): d for d in rendered}
    hpa = by_kind[("HorizontalPodAutoscaler", "qwen3-8b-decode")]
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (1, 4)
    decode = by_kind[("Deployment", "qwen3-8b-decode")]
    assert "replicas" not in decode["spec"]
    assert decode["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 0, "maxUnavailable": 1}
