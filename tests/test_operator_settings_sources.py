"""One declaration of the operator settings, read one way: the webhook and the reconciler resolve the
same OperatorSettings from the same flags, the same variables under their own prefix and the same
settings file, and the offline command line resolves the same settings from that file."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from reconciler import config as reconciler_config
from shared import cli_settings
from shared.flags import Option
from shared.settings import OperatorSettings, TracingSettings
from webhook import config as webhook_config

Load = Callable[[Sequence[str], Mapping[str, str]], Any]
SERVICES: dict[str, tuple[Load, str]] = {
    "webhook": (webhook_config.load, "WEBHOOK_"),
    "reconciler": (reconciler_config.load, "RECONCILER_"),
}

EVERYTHING = OperatorSettings(
    default_engine_image="reg/vllm:1",
    epp_generation="llm-d-router",
    default_routing_proxy_image="reg/proxy:1",
    kit_image="",
    kit_plain_http=True,
    provider="gke",
    epp_flags={"kv-cache-usage-percentage-metric": "foo", "v": "2"},
    metrics_endpoint_auth=False,
    default_gateway_name="gw",
    default_gateway_namespace="gw-ns",
    tracing=TracingSettings(
        enabled=True, otel_exporter_endpoint="http://otel:4317", sampler="", sampler_arg="1"
    ),
    version="v1.2.3",
    engine_startup_timeout_seconds=600,
    allowed_image_prefixes=("reg/", "ghcr.io/"),
)
FLAGS = [
    *("--default-engine-image", "reg/vllm:1", "--epp-generation", "llm-d-router"),
    *("--default-routing-proxy-image", "reg/proxy:1", "--kit-image", "", "--kit-plain-http", "true"),
    *("--provider", "gke", "--epp-flag", "kv-cache-usage-percentage-metric=foo", "--epp-flag", "v=2"),
    *(
        "--metrics-endpoint-auth",
        "false",
        "--default-gateway-name",
        "gw",
        "--default-gateway-namespace",
        "gw-ns",
    ),
    *("--tracing-enabled", "true", "--tracing-otel-endpoint", "http://otel:4317", "--tracing-sampler", ""),
    *("--tracing-sampler-arg", "1", "--operator-version", "v1.2.3", "--engine-startup-timeout", "600"),
    *("--allowed-image-prefix", "reg/", "--allowed-image-prefix", "ghcr.io/"),
]
VARIABLES = {
    "DEFAULT_ENGINE_IMAGE": "reg/vllm:1",
    "EPP_GENERATION": "llm-d-router",
    "DEFAULT_ROUTING_PROXY_IMAGE": "reg/proxy:1",
    "KIT_IMAGE": "",
    "KIT_PLAIN_HTTP": "true",
    "PROVIDER": "gke",
    "EPP_FLAG": "kv-cache-usage-percentage-metric=foo,v=2",
    "METRICS_ENDPOINT_AUTH": "false",
    "DEFAULT_GATEWAY_NAME": "gw",
    "DEFAULT_GATEWAY_NAMESPACE": "gw-ns",
    "TRACING_ENABLED": "true",
    "TRACING_OTEL_ENDPOINT": "http://otel:4317",
    "TRACING_SAMPLER": "",
    "TRACING_SAMPLER_ARG": "1",
    "OPERATOR_VERSION": "v1.2.3",
    "ENGINE_STARTUP_TIMEOUT": "600",
    "ALLOWED_IMAGE_PREFIX": "reg/,ghcr.io/",
}
# snake_case and camelCase keys, as the offline CLI's --settings has always read them.
SETTINGS_FILE = """\
defaultEngineImage: reg/vllm:1
epp_generation: llm-d-router
defaultRoutingProxyImage: reg/proxy:1
kit_image: ""
kitPlainHttp: true
provider: gke
eppFlags: {kv-cache-usage-percentage-metric: foo, v: "2"}
metricsEndpointAuth: false
default_gateway_name: gw
defaultGatewayNamespace: gw-ns
tracing:
  enabled: true
  otelExporterEndpoint: http://otel:4317
  sampler: ""
  sampler_arg: "1"
version: v1.2.3
engineStartupTimeoutSeconds: 600
allowedImagePrefixes: [reg/, ghcr.io/]
"""

CASES: dict[str, tuple[list[str], dict[str, str], str | None, OperatorSettings]] = {
    "the defaults with no input": ([], {}, None, OperatorSettings()),
    "every setting as a flag": (FLAGS, {}, None, EVERYTHING),
    "every setting as a variable": ([], VARIABLES, None, EVERYTHING),
    "every setting in the settings file": ([], {}, SETTINGS_FILE, EVERYTHING),
    "a flag over a variable over the file": (
        ["--provider", "none", "--tracing-sampler-arg", "0.5"],
        {"PROVIDER": "gke", "KIT_IMAGE": "", "TRACING_ENABLED": "true"},
        "provider: istio\nkitImage: reg/kit:1\nversion: v9\ntracing: {enabled: false, sampler: always_on}\n",
        OperatorSettings(
            provider="none",
            kit_image="",
            version="v9",
            tracing=TracingSettings(enabled=True, sampler="always_on", sampler_arg="0.5"),
        ),
    ),
}


def _resolve(service: str, argv: list[str], env: dict[str, str], file: Path | None) -> OperatorSettings:
    load, prefix = SERVICES[service]
    environ = {prefix + k: v for k, v in env.items()}
    if file is not None:
        environ[prefix + "SETTINGS_FILE"] = str(file)
    operator: OperatorSettings = load(argv, environ).operator
    return operator


@pytest.mark.parametrize("case", list(CASES))
def test_both_services_resolve_the_same_operator_settings(case: str, tmp_path: Path) -> None:
    argv, env, text, expected = CASES[case]
    file = None
    if text is not None:
        file = tmp_path / "settings.yaml"
        file.write_text(text)
    resolved = {service: _resolve(service, argv, env, file) for service in SERVICES}
    assert resolved == {"webhook": expected, "reconciler": expected}


def test_the_offline_command_line_reads_the_settings_file_the_services_read(tmp_path: Path) -> None:
    file = tmp_path / "settings.yaml"
    file.write_text(SETTINGS_FILE)
    offline = cli_settings.load_settings(file, [])
    assert offline == EVERYTHING
    assert {service: _resolve(service, [], {}, file) for service in SERVICES} == {
        "webhook": offline,
        "reconciler": offline,
    }


def _operator_flags(flags: Sequence[Option]) -> list[tuple[str, str, str, bool]]:
    return [(f.name, f.help, f.shown_default, f.repeat) for f in flags if f.path[:1] == ("operator",)]


def test_both_services_offer_every_operator_setting_with_the_same_flag_help_and_default() -> None:
    paths = {f.path[1:] for f in reconciler_config.FLAGS if f.path[:1] == ("operator",)}
    leaves = {(n,) for n in OperatorSettings.model_fields if n != "tracing"} | {
        ("tracing", n) for n in TracingSettings.model_fields
    }
    assert paths == leaves
    assert _operator_flags(webhook_config.FLAGS) == _operator_flags(reconciler_config.FLAGS)


def test_constructing_settings_ignores_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PROVIDER", "WEBHOOK_PROVIDER", "RECONCILER_PROVIDER"):
        monkeypatch.setenv(name, "gke")
    assert OperatorSettings().provider == "istio"
    assert webhook_config.WebhookConfig().operator.provider == "istio"
