"""Rollout strategies of the serving Deployments, and the promise that they never restart pods."""

from __future__ import annotations

from typing import Any

import pytest

from shared.builders import build_all, deployment
from tests.builders.factories import PD_VARIANT, SETTINGS, make_ms

ONE_AT_A_TIME = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}
CPU: dict[str, Any] = {"accelerator": {"type": "cpu"}}

STRATEGIES: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = [
    ("GPU pods replace one at a time", {}, ONE_AT_A_TIME),
    ("so do AMD pods", {"accelerator": {"type": "amd"}}, ONE_AT_A_TIME),
    ("CPU pods keep Kubernetes' default", CPU, None),
    (
        "a user's surge keeps the GPU default for unavailable",
        {"decode": {"rolloutStrategy": {"maxSurge": 1}}},
        {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}},
    ),
    (
        "a zero-downtime rollout where spare GPUs exist",
        {"decode": {"rolloutStrategy": {"maxSurge": 1, "maxUnavailable": 0}}},
        {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
    ),
    (
        "percentages are kept as written",
        {"decode": {"rolloutStrategy": {"maxSurge": "50%", "maxUnavailable": "25%"}}},
        {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "50%", "maxUnavailable": "25%"}},
    ),
    (
        "on CPU only the fields written are set",
        CPU | {"decode": {"rolloutStrategy": {"maxUnavailable": 0}}},
        {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0}},
    ),
    ("an empty strategy is the default", {"decode": {"rolloutStrategy": {}}}, ONE_AT_A_TIME),
]


@pytest.mark.parametrize(("spec", "expected"), [s[1:] for s in STRATEGIES], ids=[s[0] for s in STRATEGIES])
def test_decode_strategy(spec: dict[str, Any], expected: dict[str, Any] | None) -> None:
    built = deployment.build_decode_deployment(make_ms(spec), SETTINGS)
    assert built is not None
    assert built["spec"].get("strategy") == expected


def test_prefill_has_a_strategy_of_its_own() -> None:
    spec = PD_VARIANT | {"prefill": {"rolloutStrategy": {"maxUnavailable": "50%"}}}
    ms = make_ms(spec)
    decode, prefill = (
        deployment.build_decode_deployment(ms, SETTINGS),
        deployment.build_prefill_deployment(ms, SETTINGS),
    )
    assert decode is not None and prefill is not None
    assert decode["spec"]["strategy"] == ONE_AT_A_TIME
    assert prefill["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 0, "maxUnavailable": "50%"}


SCALING: list[tuple[str, dict[str, Any]]] = [
    ("a rollout strategy", {"rolloutStrategy": {"maxSurge": 2, "maxUnavailable": "10%"}}),
    ("autoscaling", {"replicas": None, "autoscaling": {"maxReplicas": 5, "requestsWaiting": 3}}),
    ("another replica count", {"replicas": 7}),
]


@pytest.mark.parametrize("decode", [s[1] for s in SCALING], ids=[s[0] for s in SCALING])
def test_scaling_and_rollout_settings_never_change_a_pod_template(decode: dict[str, Any]) -> None:
    # A Deployment rolls its pods exactly when spec.template changes: a ModelService upgraded to
    # this version, or given any of these settings, keeps its pods.
    plain = build_all(make_ms(PD_VARIANT), SETTINGS).objects
    changed = build_all(make_ms(PD_VARIANT | {"decode": decode, "prefill": decode}), SETTINGS).objects
    templates = {o["metadata"]["name"]: o["spec"]["template"] for o in plain if o["kind"] == "Deployment"}
    assert {
        o["metadata"]["name"]: o["spec"]["template"] for o in changed if o["kind"] == "Deployment"
    } == templates


def test_an_autoscaled_deployment_leaves_replicas_to_the_autoscaler() -> None:
    spec = {"decode": {"replicas": None, "autoscaling": {"maxReplicas": 5, "requestsWaiting": 3}}}
    built = deployment.build_decode_deployment(make_ms(spec), SETTINGS)
    assert built is not None
    assert "replicas" not in built["spec"]
    assert list(built["spec"]) == ["selector", "strategy", "template"]


@pytest.mark.parametrize(
    ("replicas", "expected"), [(None, 1), (0, 0), (4, 4)], ids=["absent", "zero", "four"]
)
def test_without_autoscaling_replicas_are_as_written_absent_meaning_one(
    replicas: int | None, expected: int
) -> None:
    built = deployment.build_decode_deployment(make_ms({"decode": {"replicas": replicas}}), SETTINGS)
    assert built is not None
    assert built["spec"]["replicas"] == expected
