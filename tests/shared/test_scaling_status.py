"""The scaling part of the status: each pod group's counts and selector, and AutoscalingReady."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from shared.scaling_status import Autoscaler, autoscaling_outcome, format_selector
from shared.status import Observed, derive_status

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
SELECTOR = {
    "llm-d.ai/role": "decode",
    "app.kubernetes.io/name": "m",
    "app.kubernetes.io/component": "model-decode",
}


def _deployment(name: str, spec_replicas: int | None, **status: int) -> dict[str, Any]:
    spec: dict[str, Any] = {"selector": {"matchLabels": SELECTOR}}
    if spec_replicas is not None:
        spec["replicas"] = spec_replicas
    return {"metadata": {"name": name}, "spec": spec, "status": status}


def _ms(status: dict[str, Any] | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {"metadata": {"name": "m", "namespace": "ns", "generation": 2}}
    if status is not None:
        obj["status"] = status
    return obj


def _condition(status: dict[str, Any], kind: str) -> dict[str, Any] | None:
    return next((c for c in status["conditions"] if c["type"] == kind), None)


def test_each_group_reports_the_deployments_counts_and_selector_beside_the_old_counters() -> None:
    decode = _deployment("m-decode", 3, replicas=3, readyReplicas=2, updatedReplicas=1)
    prefill = _deployment("m-prefill", 1, replicas=1, readyReplicas=1, updatedReplicas=1)
    status = derive_status(_ms(), Observed(decode=decode, prefill=prefill, prefill_enabled=True), T0)
    assert status["decode"] == {
        "replicas": 3,
        "readyReplicas": 2,
        "updatedReplicas": 1,
        "selector": "app.kubernetes.io/component=model-decode,app.kubernetes.io/name=m,llm-d.ai/role=decode",
    }
    assert status["prefill"]["replicas"] == 1
    # The fields older clients read are unchanged.
    assert (status["decodeReady"], status["decodeReplicas"]) == (2, 3)
    assert (status["prefillReady"], status["prefillReplicas"]) == (1, 1)


def test_an_autoscaled_deployment_without_spec_replicas_reports_what_it_runs() -> None:
    decode = _deployment("m-decode", None, replicas=4, readyReplicas=4, updatedReplicas=4)
    status = derive_status(_ms(), Observed(decode=decode), T0)
    assert status["decode"]["replicas"] == 4


def test_a_new_deployment_without_status_reports_zeros() -> None:
    status = derive_status(_ms(), Observed(decode=_deployment("m-decode", 1)), T0)
    assert {k: v for k, v in status["decode"].items() if k != "selector"} == {
        "replicas": 0,
        "readyReplicas": 0,
        "updatedReplicas": 0,
    }


def test_groups_without_a_deployment_drop_their_counts() -> None:
    before = {"decode": {"replicas": 1}, "prefill": {"replicas": 1}}
    status = derive_status(
        _ms(before), Observed(prefill=_deployment("m-prefill", 1), prefill_enabled=False), T0
    )
    assert "decode" not in status and "prefill" not in status


def test_selector_string_is_sorted_by_key() -> None:
    assert format_selector({"b": "2", "a": "1"}) == "a=1,b=2"
    assert format_selector({}) == ""


# --- AutoscalingReady ------------------------------------------------------------------------------


def _hpa(*conditions: tuple[str, str, str, str]) -> dict[str, Any]:
    return {
        "metadata": {"name": "m-decode"},
        "status": {
            "conditions": [{"type": t, "status": s, "reason": r, "message": m} for t, s, r, m in conditions]
        },
    }


ABLE = (
    "AbleToScale",
    "True",
    "SucceededGetScale",
    "the HPA controller was able to get the target's current scale",
)
ACTIVE = ("ScalingActive", "True", "ValidMetricFound", "the HPA was able to compute the replica count")
NO_METRIC = (
    "ScalingActive",
    "False",
    "FailedGetPodsMetric",
    "the HPA was unable to compute the replica count: unable to get metric vllm_num_requests_waiting",
)
LIMITED = ("ScalingLimited", "True", "TooFewReplicas", "the desired replica count is less than the minimum")
NOT_LIMITED = (
    "ScalingLimited",
    "False",
    "DesiredWithinRange",
    "the desired count is within the acceptable range",
)
HPA = "HorizontalPodAutoscaler"
SO = "ScaledObject"

OUTCOMES: list[tuple[str, Autoscaler, tuple[str, ...], bool, str, str]] = [
    (
        "not created yet",
        Autoscaler("decode", HPA, "m-decode", None),
        (),
        False,
        "NotFound",
        "decode: HorizontalPodAutoscaler m-decode has not been created yet",
    ),
    (
        "keda not installed",
        Autoscaler("decode", SO, "m-decode", None),
        ("ScaledObject",),
        False,
        "CRDNotInstalled",
        "decode: ScaledObject CRD not installed (is KEDA installed?)",
    ),
    (
        "the controller has not looked yet",
        Autoscaler("decode", HPA, "m-decode", _hpa()),
        (),
        False,
        "AwaitingAutoscaler",
        "decode: HorizontalPodAutoscaler m-decode: the autoscaler has not reported on it yet",
    ),
    (
        "no metrics",
        Autoscaler("decode", HPA, "m-decode", _hpa(ABLE, NO_METRIC)),
        (),
        False,
        "FailedGetPodsMetric",
        "decode: HorizontalPodAutoscaler m-decode ScalingActive=False: FailedGetPodsMetric (the HPA was "
        "unable to compute the replica count: unable to get metric vllm_num_requests_waiting)",
    ),
    (
        "cannot read the scale",
        Autoscaler("decode", HPA, "m-decode", _hpa(("AbleToScale", "False", "FailedGetScale", "no"), ACTIVE)),
        (),
        False,
        "FailedGetScale",
        "decode: HorizontalPodAutoscaler m-decode AbleToScale=False: FailedGetScale (no)",
    ),
    (
        "scaling",
        Autoscaler("decode", HPA, "m-decode", _hpa(ABLE, ACTIVE, NOT_LIMITED)),
        (),
        True,
        "AbleToScale",
        "decode: HorizontalPodAutoscaler m-decode can scale: ValidMetricFound (the HPA was able to compute "
        "the replica count)",
    ),
    (
        "held at the minimum is no fault",
        Autoscaler("decode", HPA, "m-decode", _hpa(ABLE, ACTIVE, LIMITED)),
        (),
        True,
        "AbleToScale",
        "decode: HorizontalPodAutoscaler m-decode can scale, TooFewReplicas (the desired replica count is "
        "less than the minimum)",
    ),
    (
        "keda ready",
        Autoscaler("decode", SO, "m-decode", _hpa(("Ready", "True", "ScaledObjectReady", "ok"))),
        (),
        True,
        "AbleToScale",
        "decode: ScaledObject m-decode is ready: ScaledObjectReady (ok)",
    ),
    (
        "keda not ready",
        Autoscaler(
            "decode", SO, "m-decode", _hpa(("Ready", "False", "ScaledObjectCheckFailed", "bad query"))
        ),
        (),
        False,
        "ScaledObjectCheckFailed",
        "decode: ScaledObject m-decode Ready=False: ScaledObjectCheckFailed (bad query)",
    ),
    (
        "an autoscaler reason that is no condition reason",
        Autoscaler("decode", SO, "m-decode", _hpa(("Ready", "False", "bad reason!", "x"))),
        (),
        False,
        "ScaledObjectNotReady",
        "decode: ScaledObject m-decode Ready=False: bad reason! (x)",
    ),
    (
        "an autoscaler reason longer than a condition reason may be",
        Autoscaler("decode", SO, "m-decode", _hpa(("Ready", "False", "R" * 1025, "x"))),
        (),
        False,
        "ScaledObjectNotReady",
        f"decode: ScaledObject m-decode Ready=False: {'R' * 1025} (x)",
    ),
]


@pytest.mark.parametrize(
    ("autoscaler", "missing", "ok", "reason", "message"),
    [o[1:] for o in OUTCOMES],
    ids=[o[0] for o in OUTCOMES],
)
def test_the_autoscalers_own_word_is_passed_up(
    autoscaler: Autoscaler, missing: tuple[str, ...], ok: bool, reason: str, message: str
) -> None:
    outcome = autoscaling_outcome([autoscaler], missing)
    assert (outcome.ok, outcome.reason, outcome.message) == (ok, reason, message)


def test_both_groups_are_named_and_the_failing_one_gives_the_reason() -> None:
    decode = Autoscaler("decode", HPA, "m-decode", _hpa(ABLE, ACTIVE))
    prefill = Autoscaler("prefill", SO, "m-prefill", None)
    outcome = autoscaling_outcome([decode, prefill], ("ScaledObject",))
    assert (outcome.ok, outcome.reason) == (False, "CRDNotInstalled")
    assert outcome.message.startswith("decode: HorizontalPodAutoscaler m-decode can scale")
    assert "; prefill: ScaledObject CRD not installed" in outcome.message


def test_the_condition_exists_only_while_a_group_autoscales() -> None:
    decode = _deployment("m-decode", None, replicas=1)
    scaled = Observed(
        decode=decode, autoscalers=(Autoscaler("decode", HPA, "m-decode", _hpa(ABLE, NO_METRIC)),)
    )
    status = derive_status(_ms(), scaled, T0)
    condition = _condition(status, "AutoscalingReady")
    assert condition is not None
    assert (condition["status"], condition["reason"]) == ("False", "FailedGetPodsMetric")
    assert _condition(status, "Ready") is not None
    # Autoscaling turned off: the condition goes, as NameConflict does when the conflict is gone.
    unscaled = derive_status(_ms(status), Observed(decode=_deployment("m-decode", 1)), T0)
    assert _condition(unscaled, "AutoscalingReady") is None


def test_an_autoscaler_that_cannot_scale_does_not_make_serving_unready() -> None:
    decode = _deployment("m-decode", None, replicas=1, readyReplicas=1, updatedReplicas=1)
    epp = {
        "metadata": {"name": "m-epp"},
        "spec": {"replicas": 1},
        "status": {"replicas": 1, "readyReplicas": 1},
    }
    observed = Observed(
        decode=decode,
        epp=epp,
        pool={"metadata": {"name": "m"}},
        autoscalers=(Autoscaler("decode", HPA, "m-decode", _hpa(ABLE, NO_METRIC)),),
    )
    status = derive_status(_ms(), observed, T0)
    assert status["phase"] == "Ready"
    assert (_condition(status, "Ready") or {}).get("status") == "True"
    assert (_condition(status, "AutoscalingReady") or {}).get("status") == "False"
