"""The HTTPRoute: explicit gateway, default gateway, or none."""

from __future__ import annotations

from typing import Any

import pytest

from shared.builders import httproute
from tests.builders.factories import OWNER_REFERENCES, POOL_META_LABELS, SETTINGS, make_ms, settings

RULE = {
    "matches": [
        {
            "headers": [{"type": "Exact", "name": "OtterScale-Model-Name", "value": "qwen3-0.6b"}],
            "path": {"type": "PathPrefix", "value": "/"},
        }
    ],
    "backendRefs": [{"group": "inference.networking.k8s.io", "kind": "InferencePool", "name": "qwen3-0.6b"}],
}


def test_worked_example_builds_the_default_route() -> None:
    assert httproute.build_http_route(make_ms(), SETTINGS) == {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {
            "name": "qwen3-0.6b",
            "namespace": "llm",
            "labels": POOL_META_LABELS,
            "ownerReferences": OWNER_REFERENCES,
        },
        "spec": {
            "parentRefs": [
                {
                    "group": "gateway.networking.k8s.io",
                    "kind": "Gateway",
                    "name": "otterscale-llm-d-infra-inference-gateway",
                    "namespace": "llm-d",
                }
            ],
            "rules": [RULE],
        },
    }


@pytest.mark.parametrize(
    ("gateway_ref", "expected_parent"),
    [
        ({"name": "gw"}, {"name": "gw"}),
        ({"name": "gw", "namespace": ""}, {"name": "gw"}),
        ({"name": "gw", "namespace": "llm"}, {"name": "gw"}),
        ({"name": "gw", "namespace": "gateways"}, {"name": "gw", "namespace": "gateways"}),
    ],
    ids=["namespace omitted", "namespace empty", "same namespace is omitted", "other namespace is kept"],
)
def test_explicit_route_parent(gateway_ref: dict[str, str], expected_parent: dict[str, str]) -> None:
    built = httproute.build_http_route(make_ms({"httpRoute": {"gatewayRef": gateway_ref}}), SETTINGS)
    assert built is not None
    assert built["spec"] == {"parentRefs": [expected_parent], "rules": [RULE]}


@pytest.mark.parametrize(
    ("hostnames", "expected"),
    [(None, None), ([], None), (["a.example.com", "b.example.com"], ["a.example.com", "b.example.com"])],
    ids=["absent", "empty is omitted", "kept in order"],
)
def test_explicit_route_hostnames(hostnames: list[str] | None, expected: list[str] | None) -> None:
    route: dict[str, Any] = {"gatewayRef": {"name": "gw"}}
    if hostnames is not None:
        route["hostnames"] = hostnames
    built = httproute.build_http_route(make_ms({"httpRoute": route}), SETTINGS)
    assert built is not None
    assert built["spec"].get("hostnames") == expected


@pytest.mark.parametrize(
    ("spec", "changes", "expected_gateway"),
    [
        ({}, {}, "otterscale-llm-d-infra-inference-gateway"),
        ({}, {"default_gateway_name": ""}, None),
        ({"httpRoute": {"gatewayRef": {"name": "mine"}}}, {"default_gateway_name": ""}, "mine"),
        ({"httpRoute": {"gatewayRef": {"name": "mine"}}}, {}, "mine"),
    ],
    ids=[
        "default gateway",
        "no default gateway and no route removes it",
        "explicit route without default gateway",
        "explicit route wins over the default gateway",
    ],
)
def test_route_presence(spec: dict[str, Any], changes: dict[str, Any], expected_gateway: str | None) -> None:
    built = httproute.build_http_route(make_ms(spec), settings(**changes))
    assert (built["spec"]["parentRefs"][0]["name"] if built else None) == expected_gateway


def test_default_gateway_namespace_comes_from_settings() -> None:
    built = httproute.build_http_route(make_ms(), settings(default_gateway_namespace="gateways"))
    assert built is not None
    assert built["spec"]["parentRefs"][0]["namespace"] == "gateways"
