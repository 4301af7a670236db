"""The serving Deployments: decode (always) and prefill (only with ``spec.prefill``).

Pod template labels are the selector labels only, never the operator version: the reference put the
version into pod templates, so every operator upgrade restarted every model server.

With ``autoscaling`` the Deployment carries no ``replicas``: the autoscaler sets them through the
Deployment's scale subresource, and a value written here would fight it. The rollout strategy
(``shared.builders.rollout``) sits beside the pod template, so it never restarts pods.
"""

from __future__ import annotations

from shared import labels, names
from shared.api import ModelService, RoleSpec
from shared.builders import defaults, meta, model_unpack, rollout, routing_proxy, serving, vllm
from shared.builders.meta import Manifest
from shared.names import Role
from shared.settings import OperatorSettings


def build_decode_deployment(ms: ModelService, settings: OperatorSettings) -> Manifest | None:
    """The decode Deployment; always wanted (it is the only role without disaggregation)."""
    return build_serving_deployment(ms, settings, "decode")


def build_prefill_deployment(ms: ModelService, settings: OperatorSettings) -> Manifest | None:
    """The prefill Deployment; None (so it is removed) when ``spec.prefill`` is absent."""
    return build_serving_deployment(ms, settings, "prefill")


def build_serving_deployment(ms: ModelService, settings: OperatorSettings, role: Role) -> Manifest | None:
    """The Deployment of one serving role."""
    role_spec = serving.role_spec(ms, role)
    container = vllm.build_vllm_container(ms, settings, role)
    if role_spec is None or container is None:
        return None
    template_meta: Manifest = {"labels": labels.serving_pod_labels(ms, role)}
    if role_spec.annotations:
        template_meta["annotations"] = dict(role_spec.annotations)
    metadata = meta.object_meta(
        ms, names.role_deployment_name(ms, role), labels.serving_meta_labels(ms, role, settings.version)
    )
    spec: Manifest = {}
    if role_spec.autoscaling is None:
        spec["replicas"] = defaults.default_replicas(role_spec.replicas)
    spec["selector"] = {"matchLabels": labels.serving_selector_labels(ms, role)}
    strategy = rollout.build_strategy(ms, role_spec)
    if strategy is not None:
        spec["strategy"] = strategy
    spec["template"] = {
        "metadata": template_meta,
        "spec": _pod_spec(ms, settings, role, role_spec, container),
    }
    return meta.manifest("apps/v1", "Deployment", metadata, spec=spec)


def _init_containers(ms: ModelService, settings: OperatorSettings, role: Role) -> list[Manifest]:
    """model-unpack first (it fills the model volume), then the routing proxy sidecar in decode pods."""
    unpack = model_unpack.build_model_unpack_container(ms, settings)
    proxy = (
        routing_proxy.build_routing_proxy_container(ms, settings) if serving.uses_proxy(ms, role) else None
    )
    return [c for c in (unpack, proxy) if c is not None]


def _pod_spec(
    ms: ModelService, settings: OperatorSettings, role: Role, role_spec: RoleSpec, container: Manifest
) -> Manifest:
    # No service account token: vLLM and kit never talk to the Kubernetes API.
    pod: Manifest = {
        "automountServiceAccountToken": False,
        "securityContext": serving.pod_security_context(),
    }
    init_containers = _init_containers(ms, settings, role)
    if init_containers:
        pod["initContainers"] = init_containers
    pod["containers"] = [container]
    pod["volumes"] = model_unpack.build_serving_volumes(ms)
    if ms.spec.model.image_pull_secrets:
        pod["imagePullSecrets"] = [
            s.model_dump(mode="json", exclude_none=True) for s in ms.spec.model.image_pull_secrets
        ]
    if role_spec.node_selector:
        pod["nodeSelector"] = dict(role_spec.node_selector)
    if role_spec.tolerations:
        pod["tolerations"] = [t.model_dump(mode="json", exclude_none=True) for t in role_spec.tolerations]
    return pod
