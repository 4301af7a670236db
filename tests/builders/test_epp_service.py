"""The EPP Service."""

from __future__ import annotations

from typing import Any

import pytest

from shared.builders import epp_service
from tests.builders.factories import EPP_META, EPP_SELECTOR, SETTINGS, make_ms


def test_worked_example_builds_the_reference_service() -> None:
    assert epp_service.build_epp_service(make_ms(), SETTINGS) == {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": EPP_META,
        "spec": {
            "selector": EPP_SELECTOR,
            "ports": [
                {"name": "grpc-ext-proc", "port": 9002, "targetPort": 9002, "protocol": "TCP"},
                {"name": "http-metrics", "port": 9090, "targetPort": 9090, "protocol": "TCP"},
            ],
        },
    }


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({}, 9002),
        ({"inferencePool": {"endpointPicker": {}}}, 9002),
        ({"inferencePool": {"endpointPicker": {"port": 9500}}}, 9500),
    ],
    ids=["no pool", "pool with default port", "pool with explicit port"],
)
def test_ext_proc_port_follows_the_endpoint_picker(spec: dict[str, Any], expected: int) -> None:
    built = epp_service.build_epp_service(make_ms(spec), SETTINGS)
    assert built is not None
    assert built["spec"]["ports"][0] == {
        "name": "grpc-ext-proc",
        "port": expected,
        "targetPort": expected,
        "protocol": "TCP",
    }
