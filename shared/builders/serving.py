"""Derived values of the serving pods (children.md §5), shared by their container builders.

The reference tolerates unset or non-positive ports and an empty mount path at runtime; the same
fallbacks live here once, so the vLLM container, the routing proxy and the InferencePool agree on
every port.
"""

from __future__ import annotations

from shared.api import ModelService, RoleSpec
from shared.builders.meta import Manifest
from shared.names import Role

DEFAULT_MOUNT_PATH = "/models"
DEFAULT_ENGINE_PORT = 8000
DEFAULT_TARGET_PORT = 8200


def role_spec(ms: ModelService, role: Role) -> RoleSpec | None:
    """The RoleSpec of ``role``; None when that role's pods are not wanted (no prefill)."""
    return ms.spec.decode if role == "decode" else ms.spec.prefill


def mount_path(ms: ModelService) -> str:
    """Where the unpacked model lives in every serving container."""
    return ms.spec.model.mount_path or DEFAULT_MOUNT_PATH


def engine_port(ms: ModelService) -> int:
    """The pod's serving port: vLLM's, or the routing proxy's when the proxy fronts vLLM."""
    return ms.spec.engine.port if ms.spec.engine.port > 0 else DEFAULT_ENGINE_PORT


def target_port(ms: ModelService) -> int:
    """The port vLLM listens on behind the routing proxy."""
    proxy = ms.spec.routing_proxy
    if proxy is None or proxy.target_port <= 0:
        return DEFAULT_TARGET_PORT
    return proxy.target_port


def uses_proxy(ms: ModelService, role: Role) -> bool:
    """Only decode pods run the routing proxy; it orchestrates the remote prefill call."""
    return role == "decode" and ms.spec.routing_proxy is not None


def vllm_port(ms: ModelService, role: Role) -> int:
    """vLLM's own port: behind the proxy in decode pods, the serving port otherwise."""
    return target_port(ms) if uses_proxy(ms, role) else engine_port(ms)


def container_security_context() -> Manifest:
    """Every container drops all capabilities and cannot escalate."""
    return {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def pod_security_context() -> Manifest:
    """Non-root with the runtime's default seccomp profile (the restricted Pod Security baseline)."""
    return {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}


def env_value(name: str, value: str) -> Manifest:
    return {"name": name, "value": value}
