"""The Istio DestinationRule for the EPP."""

from __future__ import annotations

import pytest

from shared.builders import destinationrule
from tests.builders.factories import EPP_META, SETTINGS, make_ms, settings


def test_destination_rule_originates_tls_to_the_epp_service() -> None:
    assert destinationrule.build_destination_rule(make_ms(), SETTINGS) == {
        "apiVersion": "networking.istio.io/v1beta1",
        "kind": "DestinationRule",
        "metadata": EPP_META,
        "spec": {
            "host": "qwen3-0-6b-epp.llm.svc.cluster.local",
            "trafficPolicy": {"tls": {"mode": "SIMPLE", "insecureSkipVerify": True}},
        },
    }


@pytest.mark.parametrize(
    ("provider", "wanted"), [("istio", True), ("gke", False), ("none", False)], ids=["istio", "gke", "none"]
)
def test_destination_rule_only_with_istio(provider: str, wanted: bool) -> None:
    built = destinationrule.build_destination_rule(make_ms(), settings(provider=provider))
    assert (built is not None) is wanted
