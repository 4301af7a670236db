"""The EPP ServiceMonitor: opt-in, with bearer auth when metrics auth is on."""

from __future__ import annotations

from typing import Any

import pytest

from shared.builders import servicemonitor
from tests.builders.factories import EPP_META, EPP_SELECTOR, make_ms, settings

ENABLED = {"inferencePool": {"endpointPicker": {}}, "monitoring": {"podMonitor": {"enabled": True}}}


@pytest.mark.parametrize(
    ("auth", "expected_endpoint"),
    [
        (
            True,
            {
                "port": "http-metrics",
                "interval": "30s",
                "authorization": {
                    "credentials": {"name": "qwen3-0-6b-epp-sa-metrics-reader-secret", "key": "token"}
                },
            },
        ),
        (False, {"port": "http-metrics", "interval": "30s"}),
    ],
    ids=["metrics auth on sends the token", "metrics auth off scrapes plainly"],
)
def test_service_monitor(auth: bool, expected_endpoint: dict[str, Any]) -> None:
    assert servicemonitor.build_service_monitor(make_ms(ENABLED), settings(metrics_endpoint_auth=auth)) == {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": EPP_META,
        "spec": {"selector": {"matchLabels": EPP_SELECTOR}, "endpoints": [expected_endpoint]},
    }


@pytest.mark.parametrize(
    ("spec", "wanted"),
    [
        (ENABLED, True),
        ({"monitoring": {"podMonitor": {"enabled": True}}}, False),
        ({"inferencePool": {"endpointPicker": {}}}, False),
        ({"inferencePool": {"endpointPicker": {}}, "monitoring": {}}, False),
        ({"inferencePool": {"endpointPicker": {}}, "monitoring": {"podMonitor": {"enabled": False}}}, False),
    ],
    ids=[
        "pool and explicit enabled",
        "no pool",
        "monitoring absent (pod monitors on, service monitor off)",
        "podMonitor absent",
        "enabled false",
    ],
)
def test_service_monitor_presence(spec: dict[str, Any], wanted: bool) -> None:
    assert (servicemonitor.build_service_monitor(make_ms(spec), settings()) is not None) is wanted
