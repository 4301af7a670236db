"""The routing proxy sidecar: argument order, optional flags, tracing env, presence."""

from __future__ import annotations

from typing import Any

import pytest

from shared.builders import routing_proxy
from tests.builders.factories import SETTINGS, make_ms, settings

BASE_ARGS = ["--port", "8000", "--vllm-port", "8200", "--connector", "nixlv2"]


@pytest.mark.parametrize(
    ("proxy", "expected"),
    [
        ({}, [*BASE_ARGS, "--secure-proxy=false"]),
        (
            {"connector": ""},
            ["--port", "8000", "--vllm-port", "8200", "--connector", "", "--secure-proxy=false"],
        ),
        ({"zapEncoder": "json"}, [*BASE_ARGS, "--zap-encoder", "json", "--secure-proxy=false"]),
        ({"zapLogLevel": "debug"}, [*BASE_ARGS, "--zap-log-level", "debug", "--secure-proxy=false"]),
        ({"secureProxy": True}, [*BASE_ARGS, "--secure-proxy=true"]),
        ({"secureProxy": False}, [*BASE_ARGS, "--secure-proxy=false"]),
        ({"prefillerUseTLS": True}, [*BASE_ARGS, "--secure-proxy=false", "--prefiller-use-tls=true"]),
        ({"prefillerUseTLS": False}, [*BASE_ARGS, "--secure-proxy=false", "--prefiller-use-tls=false"]),
        ({"certPath": "/certs"}, [*BASE_ARGS, "--secure-proxy=false", "--cert-path", "/certs"]),
        (
            {
                "connector": "lmcache",
                "targetPort": 9000,
                "zapEncoder": "console",
                "zapLogLevel": "info",
                "secureProxy": True,
                "prefillerUseTLS": True,
                "certPath": "/c",
            },
            [
                *("--port", "8000", "--vllm-port", "9000", "--connector", "lmcache"),
                *("--zap-encoder", "console", "--zap-log-level", "info"),
                *("--secure-proxy=true", "--prefiller-use-tls=true", "--cert-path", "/c"),
            ],
        ),
    ],
    ids=[
        "defaults",
        "empty connector is passed through",
        "zap encoder",
        "zap log level",
        "secure proxy on",
        "secure proxy explicitly off",
        "prefiller tls on",
        "prefiller tls explicitly off",
        "cert path",
        "every flag in order",
    ],
)
def test_routing_proxy_args(proxy: dict[str, Any], expected: list[str]) -> None:
    assert routing_proxy.routing_proxy_args(make_ms({"routingProxy": proxy})) == expected


@pytest.mark.parametrize(
    ("tracing", "expected_env"),
    [
        ({"enabled": False, "otel_exporter_endpoint": "http://otel:4317"}, None),
        (
            {"enabled": True, "otel_exporter_endpoint": "http://otel:4317"},
            [
                {"name": "OTEL_SERVICE_NAME", "value": "llm-d-routing-sidecar"},
                {"name": "OTEL_EXPORTER_OTLP_ENDPOINT", "value": "http://otel:4317"},
                {"name": "OTEL_TRACES_EXPORTER", "value": "otlp"},
                {"name": "OTEL_TRACES_SAMPLER", "value": "parentbased_traceidratio"},
                {"name": "OTEL_TRACES_SAMPLER_ARG", "value": "0.01"},
            ],
        ),
        (
            {"enabled": True, "sampler": "", "sampler_arg": ""},
            [
                {"name": "OTEL_SERVICE_NAME", "value": "llm-d-routing-sidecar"},
                {"name": "OTEL_EXPORTER_OTLP_ENDPOINT", "value": ""},
                {"name": "OTEL_TRACES_EXPORTER", "value": "otlp"},
            ],
        ),
    ],
    ids=["tracing off sets no env", "tracing on", "empty sampler settings are omitted"],
)
def test_routing_proxy_tracing_env(
    tracing: dict[str, Any], expected_env: list[dict[str, str]] | None
) -> None:
    container = routing_proxy.build_routing_proxy_container(
        make_ms({"routingProxy": {}}), settings(tracing=tracing)
    )
    assert container is not None
    assert container.get("env") == expected_env


def test_explicit_image_wins_over_the_default() -> None:
    container = routing_proxy.build_routing_proxy_container(
        make_ms({"routingProxy": {"image": "proxy:dev"}}), SETTINGS
    )
    assert container is not None
    assert container["image"] == "proxy:dev"


def test_no_routing_proxy_spec_builds_no_sidecar() -> None:
    assert routing_proxy.build_routing_proxy_container(make_ms(), SETTINGS) is None
