"""Reconciler configuration from command-line flags and ``RECONCILER_*`` environment variables.

Every flag ``--some-flag`` has the variable ``RECONCILER_SOME_FLAG``; a flag on the command line wins
over the variable, which wins over the default. Repeatable flags (``--namespace``, ``--epp-flag``,
``--allowed-image-prefix``) take a comma-separated variable. Flag names follow the reference
operator's where it has one (``--default-engine-image``, ``--leader-elect``, ...). ``describe()``
renders the table of all flags.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.manager import ManagerOptions, default_identity
from reconciler.runtime.leader import LeaseConfig
from shared.flags import Flag, FlagSet, parse_bool, parse_pair
from shared.settings import OperatorSettings, TracingSettings

ENV_PREFIX = "RECONCILER_"
LEASE_NAME = "model-operator-leader-election"
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


@dataclass(frozen=True)
class ReconcilerConfig:
    """Everything ``python -m reconciler`` needs: what to build, how to run, where to listen."""

    operator: OperatorSettings = field(default_factory=OperatorSettings)
    manager: ManagerOptions = field(default_factory=ManagerOptions)
    kubeconfig: str | None = None
    context: str | None = None
    qps: float = 50.0
    burst: int = 100
    health_bind: str = ":8081"
    metrics_bind: str = ":8080"
    log_level: str = "info"
    shutdown_timeout: float = 30.0


_OPERATOR = OperatorSettings()
_TRACING = TracingSettings()

FLAGS: tuple[Flag, ...] = (
    # What the children look like (OperatorSettings).
    Flag(
        "default-engine-image", "vLLM image when spec.engine.image is empty", _OPERATOR.default_engine_image
    ),
    Flag(
        "epp-generation",
        "EPP to deploy: gateway-api-inference-extension or llm-d-router (config schema and image)",
        _OPERATOR.epp_generation,
    ),
    # No default of its own: an unset image follows --epp-generation.
    Flag("default-epp-image", "EPP image when it is not set; default: the EPP generation's image"),
    Flag("default-routing-proxy-image", "routing sidecar image", _OPERATOR.default_routing_proxy_image),
    Flag("kit-image", "model-unpack image; empty disables the init container", _OPERATOR.kit_image),
    Flag("kit-plain-http", "pass --plain-http to kit unpack", _OPERATOR.kit_plain_http, parse_bool),
    Flag("provider", "istio (DestinationRule), gke (no token Secret) or none", _OPERATOR.provider),
    Flag("epp-flag", "extra EPP argument KEY=VALUE (repeatable)", (), parse_pair, True),
    Flag("metrics-endpoint-auth", "EPP /metrics needs a token", _OPERATOR.metrics_endpoint_auth, parse_bool),
    Flag(
        "default-gateway-name",
        "Gateway of the default HTTPRoute; empty: none",
        _OPERATOR.default_gateway_name,
    ),
    Flag("default-gateway-namespace", "namespace of that Gateway", _OPERATOR.default_gateway_namespace),
    Flag("tracing-enabled", "OpenTelemetry tracing in EPP and routing proxy", _TRACING.enabled, parse_bool),
    Flag("tracing-otel-endpoint", "OTLP exporter endpoint", _TRACING.otel_exporter_endpoint),
    Flag("tracing-sampler", "OTEL_TRACES_SAMPLER", _TRACING.sampler),
    Flag("tracing-sampler-arg", "OTEL_TRACES_SAMPLER_ARG", _TRACING.sampler_arg),
    Flag("operator-version", "app.kubernetes.io/version label of children", _OPERATOR.version),
    Flag(
        "engine-startup-timeout",
        "seconds vLLM may take to load a model",
        _OPERATOR.engine_startup_timeout_seconds,
        int,
    ),
    Flag("allowed-image-prefix", "allowed image prefix (repeatable); none allows all", (), str, True),
    # How the reconciler runs.
    Flag("namespace", "watch only this namespace (repeatable); none: all", (), str, True),
    Flag("workers", "concurrent reconciles", 2, int),
    Flag("kubeconfig", "kubeconfig file; default: in-cluster, else $KUBECONFIG or ~/.kube/config"),
    Flag("context", "kubeconfig context"),
    Flag("kube-api-qps", "client-side API request rate", 50.0, float),
    Flag("kube-api-burst", "client-side API burst", 100, int),
    Flag("queue-qps", "overall retry rate of the work queue", 10.0, float),
    Flag("queue-burst", "overall retry burst of the work queue", 100, int),
    Flag("resync-period", "seconds between reconciles of every ModelService", 300.0, float),
    Flag("discovery-period", "seconds between checks for newly installed CRDs", 30.0, float),
    Flag("watch-timeout", "seconds before a watch is renewed", 300, int),
    Flag("leader-elect", "hold a Lease so only one replica reconciles", False, parse_bool),
    Flag("leader-election-id", "name of the Lease", LEASE_NAME),
    Flag("leader-election-namespace", "namespace of the Lease; default: the pod's"),
    Flag("lease-duration", "seconds a standby waits before taking over", 15.0, float),
    Flag("renew-deadline", "seconds the leader keeps trying to renew", 10.0, float),
    Flag("retry-period", "seconds between Lease attempts", 2.0, float),
    Flag("health-probe-bind-address", "host:port of /healthz and /readyz; 0 disables", ":8081"),
    Flag("metrics-bind-address", "host:port of /metrics; 0 disables", ":8080"),
    Flag("log-level", "debug, info, warning or error", "info"),
    Flag("shutdown-timeout", "seconds in-flight reconciles get on SIGTERM", 30.0, float),
)


FLAG_SET = FlagSet(ENV_PREFIX, FLAGS, prog="python -m reconciler", description="ModelService reconciler.")
env_name = FLAG_SET.env_name
build_parser = FLAG_SET.build_parser
describe = FLAG_SET.describe


def load(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> ReconcilerConfig:
    """Flags over environment over defaults; a bad value exits with argparse's usage message."""
    values = FLAG_SET.parse(argv, environ)
    try:
        return _config(values, os.environ if environ is None else environ)
    except ValueError as e:
        FLAG_SET.fail(str(e))


def _config(v: dict[str, Any], env: Mapping[str, str]) -> ReconcilerConfig:
    operator = OperatorSettings(
        default_engine_image=v["default_engine_image"],
        epp_generation=v["epp_generation"],
        default_epp_image=v["default_epp_image"],
        default_routing_proxy_image=v["default_routing_proxy_image"],
        kit_image=v["kit_image"],
        kit_plain_http=v["kit_plain_http"],
        provider=v["provider"],
        epp_flags=dict(v["epp_flag"]),
        metrics_endpoint_auth=v["metrics_endpoint_auth"],
        default_gateway_name=v["default_gateway_name"],
        default_gateway_namespace=v["default_gateway_namespace"],
        tracing=TracingSettings(
            enabled=v["tracing_enabled"],
            otel_exporter_endpoint=v["tracing_otel_endpoint"],
            sampler=v["tracing_sampler"],
            sampler_arg=v["tracing_sampler_arg"],
        ),
        version=v["operator_version"],
        engine_startup_timeout_seconds=v["engine_startup_timeout"],
        allowed_image_prefixes=tuple(v["allowed_image_prefix"]),
    )
    lease = None
    if v["leader_elect"]:
        lease = LeaseConfig(
            name=v["leader_election_id"],
            namespace=v["leader_election_namespace"] or _own_namespace(env),
            identity=default_identity(),
            lease_duration=v["lease_duration"],
            renew_deadline=v["renew_deadline"],
            retry_period=v["retry_period"],
        )
    manager = ManagerOptions(
        namespaces=tuple(v["namespace"]),
        workers=v["workers"],
        resync_period=v["resync_period"],
        discovery_period=v["discovery_period"],
        watch_timeout=v["watch_timeout"],
        leader_election=lease,
        queue_qps=v["queue_qps"],
        queue_burst=v["queue_burst"],
    )
    if manager.workers < 1:
        raise ValueError(f"--workers must be at least 1, got {manager.workers}")
    parse_bind(v["health_probe_bind_address"])
    parse_bind(v["metrics_bind_address"])
    return ReconcilerConfig(
        operator=operator,
        manager=manager,
        kubeconfig=v["kubeconfig"],
        context=v["context"],
        qps=v["kube_api_qps"],
        burst=v["kube_api_burst"],
        health_bind=v["health_probe_bind_address"],
        metrics_bind=v["metrics_bind_address"],
        log_level=v["log_level"],
        shutdown_timeout=v["shutdown_timeout"],
    )


def _own_namespace(env: Mapping[str, str]) -> str:
    if env.get("POD_NAMESPACE"):
        return env["POD_NAMESPACE"]
    if SERVICE_ACCOUNT_NAMESPACE.is_file():
        return SERVICE_ACCOUNT_NAMESPACE.read_text().strip()
    return "default"


def parse_bind(address: str) -> tuple[str, int] | None:
    """``host:port`` (``:8081`` is every interface); ``0`` or empty disables the server."""
    if address in ("", "0"):
        return None
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"bind address must be host:port, :port or 0, got {address!r}")
    return host or "0.0.0.0", int(port)
