"""OTEL env shared by the traced components."""

from __future__ import annotations

import pytest

from shared.builders import tracing
from shared.settings import TracingSettings


def test_exporter_env_names_the_service_and_endpoint() -> None:
    env = tracing.exporter_env(TracingSettings(enabled=True, otel_exporter_endpoint="http://c:4317"), "svc")
    assert env == [
        {"name": "OTEL_SERVICE_NAME", "value": "svc"},
        {"name": "OTEL_EXPORTER_OTLP_ENDPOINT", "value": "http://c:4317"},
        {"name": "OTEL_TRACES_EXPORTER", "value": "otlp"},
    ]


@pytest.mark.parametrize(
    ("sampler", "arg", "expected_names"),
    [
        ("always_on", "1", ["OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG"]),
        ("always_on", "", ["OTEL_TRACES_SAMPLER"]),
        ("", "0.5", ["OTEL_TRACES_SAMPLER_ARG"]),
        ("", "", []),
    ],
    ids=["both", "sampler only", "argument only", "neither"],
)
def test_sampler_env_omits_empty_settings(sampler: str, arg: str, expected_names: list[str]) -> None:
    env = tracing.sampler_env(TracingSettings(sampler=sampler, sampler_arg=arg))
    assert [e["name"] for e in env] == expected_names
