"""The llm-d routing proxy: a native sidecar in decode pods, in front of vLLM.

It listens on the engine port, forwards to vLLM on the target port and, with prefill pods, runs the
remote prefill call. As an init container with ``restartPolicy: Always`` it starts before vLLM and
stops after it, so no request reaches a pod whose proxy is not up.
"""

from __future__ import annotations

from shared.api import ModelService
from shared.builders import serving, tracing
from shared.builders.meta import Manifest
from shared.settings import OperatorSettings

OTEL_SERVICE_NAME = "llm-d-routing-sidecar"


def _bool_flag(value: bool) -> str:
    return "true" if value else "false"


def routing_proxy_args(ms: ModelService) -> list[str]:
    """The reference's argument list, in its order (the connector is passed even when empty)."""
    proxy = ms.spec.routing_proxy
    if proxy is None:
        return []
    args = [
        "--port",
        str(serving.engine_port(ms)),
        "--vllm-port",
        str(serving.target_port(ms)),
        "--connector",
        proxy.connector,
    ]
    if proxy.zap_encoder:
        args += ["--zap-encoder", proxy.zap_encoder]
    if proxy.zap_log_level:
        args += ["--zap-log-level", proxy.zap_log_level]
    args.append(f"--secure-proxy={_bool_flag(bool(proxy.secure_proxy))}")
    if proxy.prefiller_use_tls is not None:
        args.append(f"--prefiller-use-tls={_bool_flag(proxy.prefiller_use_tls)}")
    if proxy.cert_path:
        args += ["--cert-path", proxy.cert_path]
    return args


def build_routing_proxy_container(ms: ModelService, settings: OperatorSettings) -> Manifest | None:
    """The sidecar for decode pods; None without ``spec.routingProxy``."""
    proxy = ms.spec.routing_proxy
    if proxy is None:
        return None
    container: Manifest = {
        "name": "routing-proxy",
        "image": proxy.image or settings.default_routing_proxy_image,
        "args": routing_proxy_args(ms),
    }
    if settings.tracing.enabled:
        env = tracing.exporter_env(settings.tracing, OTEL_SERVICE_NAME)
        container["env"] = env + tracing.sampler_env(settings.tracing)
    return container | {
        "ports": [{"name": "proxy", "containerPort": serving.engine_port(ms), "protocol": "TCP"}],
        "restartPolicy": "Always",
        "securityContext": serving.container_security_context(),
    }
