"""OpenTelemetry env shared by the traced components (EPP and routing proxy).

Both follow the reference's order: service name, exporter endpoint and exporter first, component
specific entries next, the sampler settings last (each omitted when empty so the SDK default holds).
"""

from __future__ import annotations

from shared.builders.meta import Manifest
from shared.builders.serving import env_value
from shared.settings import TracingSettings


def exporter_env(tracing: TracingSettings, service_name: str) -> list[Manifest]:
    """OTEL_SERVICE_NAME, OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_TRACES_EXPORTER."""
    return [
        env_value("OTEL_SERVICE_NAME", service_name),
        env_value("OTEL_EXPORTER_OTLP_ENDPOINT", tracing.otel_exporter_endpoint),
        env_value("OTEL_TRACES_EXPORTER", "otlp"),
    ]


def sampler_env(tracing: TracingSettings) -> list[Manifest]:
    """OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG, each only when set."""
    env = []
    if tracing.sampler:
        env.append(env_value("OTEL_TRACES_SAMPLER", tracing.sampler))
    if tracing.sampler_arg:
        env.append(env_value("OTEL_TRACES_SAMPLER_ARG", tracing.sampler_arg))
    return env
