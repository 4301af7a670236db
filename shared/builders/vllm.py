"""The ``vllm`` serving container of decode and prefill pods.

Arguments, env and ports are the reference operator's (children.md §5), in its order, so migrated
pods start the same engine. One deliberate addition: health probes. The reference has none, so a
pod counts as ready while the model is still loading and the gateway routes requests to it.
"""

from __future__ import annotations

import math

from shared import gpu
from shared.api import ModelService, RoleSpec
from shared.builders import serving
from shared.builders.meta import Manifest
from shared.kube_types import port_number
from shared.names import Role
from shared.settings import OperatorSettings

NIXL_PORT_ENV = "VLLM_NIXL_SIDE_CHANNEL_PORT"
HEALTH_PATH = "/health"
HTTP_PORT_NAME = "http"

# Probe timing. vLLM answers /health from its API server's event loop, which can stall for a few
# seconds under heavy batching, so every probe allows 5 s instead of Kubernetes' 1 s default.
# Startup polls every 10 s for the operator's whole model-load budget (large models take many
# minutes to unpack and load onto the GPUs). Readiness polls every 5 s and drops the pod from the
# pool after 3 misses (~15 s). Liveness tolerates a minute of failures (6 x 10 s) because a restart
# costs a full model reload.
STARTUP_PERIOD_SECONDS = 10
READINESS_PERIOD_SECONDS = 5
READINESS_FAILURE_THRESHOLD = 3
LIVENESS_PERIOD_SECONDS = 10
LIVENESS_FAILURE_THRESHOLD = 6
PROBE_TIMEOUT_SECONDS = 5

# Go's strconv.Atoi in base 10: optional sign, ASCII digits only (Python's int() would also accept
# spaces, underscores and non-ASCII digits).


def nixl_side_channel_port(ms: ModelService) -> int | None:
    """The NIXL side-channel port from the FIRST ``VLLM_NIXL_SIDE_CHANNEL_PORT`` env entry, if valid."""
    entry = next((e for e in ms.spec.engine.env or () if e.name == NIXL_PORT_ENV), None)
    return None if entry is None else port_number(entry.value)


def vllm_args(ms: ModelService, role_spec: RoleSpec, port: int) -> list[str]:
    """Model path, port and served name; parallel sizes only above 1; then the user's args."""
    tensor, data, data_local = gpu.parallel_sizes(role_spec.parallelism)
    args = [serving.mount_path(ms), "--port", str(port), "--served-model-name", ms.spec.model.name]
    for flag, size in (
        ("--tensor-parallel-size", tensor),
        ("--data-parallel-size", data),
        ("--data-parallel-size-local", data_local),
    ):
        if size > 1:
            args += [flag, str(size)]
    return args + list(ms.spec.engine.args or ())


def vllm_env(ms: ModelService, role_spec: RoleSpec) -> list[Manifest]:
    """Parallel sizes (always, even when 1) for the image's entrypoint, then the user's env verbatim."""
    tensor, data, data_local = gpu.parallel_sizes(role_spec.parallelism)
    env = [
        serving.env_value("TP_SIZE", str(tensor)),
        serving.env_value("DP_SIZE", str(data)),
        serving.env_value("DP_SIZE_LOCAL", str(data_local)),
    ]
    return env + [e.model_dump(mode="json", exclude_none=True) for e in ms.spec.engine.env or ()]


def vllm_ports(ms: ModelService, port: int) -> list[Manifest]:
    """The HTTP port, plus the NIXL side channel when configured and not already taken."""
    ports: list[Manifest] = [{"name": HTTP_PORT_NAME, "containerPort": port, "protocol": "TCP"}]
    nixl = nixl_side_channel_port(ms)
    if nixl is not None and nixl != port:
        ports.append({"name": "nixl-side", "containerPort": nixl, "protocol": "TCP"})
    return ports


def vllm_resources(ms: ModelService, role_spec: RoleSpec) -> Manifest:
    """The role's resources with the accelerator count derived from parallelism."""
    user = role_spec.resources
    resources = user.model_dump(mode="json", exclude_none=True) if user is not None else {}
    count = gpu.gpu_count(role_spec.parallelism)
    return gpu.inject_gpu_resources(resources, ms.spec.accelerator.type, count)


def _http_probe(period: int, failures: int) -> Manifest:
    return {
        "httpGet": {"path": HEALTH_PATH, "port": HTTP_PORT_NAME},
        "periodSeconds": period,
        "timeoutSeconds": PROBE_TIMEOUT_SECONDS,
        "failureThreshold": failures,
    }


def vllm_probes(settings: OperatorSettings) -> Manifest:
    """startup/readiness/liveness on vLLM's /health, so "ready" means the model is loaded."""
    startup_failures = math.ceil(settings.engine_startup_timeout_seconds / STARTUP_PERIOD_SECONDS)
    return {
        "startupProbe": _http_probe(STARTUP_PERIOD_SECONDS, startup_failures),
        "readinessProbe": _http_probe(READINESS_PERIOD_SECONDS, READINESS_FAILURE_THRESHOLD),
        "livenessProbe": _http_probe(LIVENESS_PERIOD_SECONDS, LIVENESS_FAILURE_THRESHOLD),
    }


def build_vllm_container(ms: ModelService, settings: OperatorSettings, role: Role) -> Manifest | None:
    """The vLLM container of ``role``'s pods; None when the role is not wanted."""
    role_spec = serving.role_spec(ms, role)
    if role_spec is None:
        return None
    port = serving.vllm_port(ms, role)
    container: Manifest = {"name": "vllm", "image": ms.spec.engine.image or settings.default_engine_image}
    if ms.spec.engine.image_pull_policy:
        container["imagePullPolicy"] = ms.spec.engine.image_pull_policy
    container |= {
        "command": ["vllm", "serve"],
        "args": vllm_args(ms, role_spec, port),
        "env": vllm_env(ms, role_spec),
        "ports": vllm_ports(ms, port),
        "volumeMounts": [{"name": "model", "mountPath": serving.mount_path(ms), "readOnly": True}],
        "resources": vllm_resources(ms, role_spec),
        "securityContext": serving.container_security_context(),
    }
    return container | vllm_probes(settings)
