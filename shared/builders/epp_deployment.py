"""The Endpoint Picker (EPP) Deployment: the scheduler the gateway asks for every request.

It exists for every ModelService: without ``spec.inferencePool`` a default EPP (default image, one
replica, port 9002) backs the default pool. The pod template carries the hash of the plugin config
so a switch between PD and non-PD mode, or between EPP generations, re-creates the EPP pods
(strategy Recreate: two EPPs with different profiles must not schedule side by side).

Both EPP generations take the same arguments, ports and gRPC health services: the llm-d router kept
the Gateway API Inference Extension's command line (llm-d/llm-d-router pkg/epp/server/options.go,
config/charts/routerlib/templates/_deployment.yaml); only the image, the config schema and the
tracing service name differ.
"""

from __future__ import annotations

from shared import epp_config, labels, names
from shared.api import EndpointPickerSpec, ModelService
from shared.builders import defaults, meta, serving, tracing
from shared.builders.meta import Manifest
from shared.settings import EppGeneration, OperatorSettings

HEALTH_PORT = 9003
METRICS_PORT = 9090
CONFIG_MOUNT_PATH = "/config"
POOL_GROUP = "inference.networking.k8s.io"
OTEL_SERVICE_NAME = "gateway-api-inference-extension"
# The llm-d router chart names its EPP's traces so (config/charts/routerlib/templates/_deployment.yaml).
OTEL_SERVICE_NAMES: dict[EppGeneration, str] = {
    "gateway-api-inference-extension": OTEL_SERVICE_NAME,
    "llm-d-router": "llm-d-router/epp",
}
CONFIG_HASH_ANNOTATION = "checksum/config"
# The reference's grace period, kept so a migrated EPP shuts down exactly as before.
TERMINATION_GRACE_SECONDS = 130

_DEFAULT_RESOURCES: Manifest = {"requests": {"cpu": "4", "memory": "8Gi"}, "limits": {"memory": "16Gi"}}


def epp_args(ms: ModelService, settings: OperatorSettings, picker: EndpointPickerSpec) -> list[str]:
    """The reference's EPP arguments, each one ``--key=value`` item, in its order."""
    args = [
        f"--pool-name={names.inference_pool_name(ms)}",
        f"--pool-namespace={ms.metadata.namespace}",
        f"--pool-group={POOL_GROUP}",
        f"--config-file={CONFIG_MOUNT_PATH}/{epp_config.plugins_config_file(ms)}",
        f"--grpc-port={defaults.epp_port(picker)}",
        "--zap-encoder=json",
    ]
    if picker.replicas > 1:
        args.append("--ha-enable-leader-election")
    args.append(f"--tracing={'true' if settings.tracing.enabled else 'false'}")
    if not settings.metrics_endpoint_auth:
        args.append("--metrics-endpoint-auth=false")
    return args + [f"--{key}={settings.epp_flags[key]}" for key in sorted(settings.epp_flags)]


def _field_env(name: str, field_path: str, api_version: str | None = None) -> Manifest:
    ref: Manifest = {"fieldPath": field_path}
    if api_version is not None:
        ref = {"apiVersion": api_version, **ref}
    return {"name": name, "valueFrom": {"fieldRef": ref}}


def epp_env(settings: OperatorSettings) -> list[Manifest]:
    """Namespace and pod name from the downward API, plus OTEL env when tracing is on."""
    env = [_field_env("NAMESPACE", "metadata.namespace"), _field_env("POD_NAME", "metadata.name")]
    if not settings.tracing.enabled:
        return env
    return [
        *env,
        *tracing.exporter_env(settings.tracing, OTEL_SERVICE_NAMES[settings.epp_generation]),
        _field_env("OTEL_RESOURCE_ATTRIBUTES_NODE_NAME", "spec.nodeName", "v1"),
        _field_env("OTEL_RESOURCE_ATTRIBUTES_POD_NAME", "metadata.name", "v1"),
        serving.env_value(
            "OTEL_RESOURCE_ATTRIBUTES",
            "k8s.namespace.name=$(NAMESPACE),k8s.node.name=$(OTEL_RESOURCE_ATTRIBUTES_NODE_NAME),"
            "k8s.pod.name=$(OTEL_RESOURCE_ATTRIBUTES_POD_NAME)",
        ),
        *tracing.sampler_env(settings.tracing),
    ]


def epp_resources(picker: EndpointPickerSpec) -> Manifest:
    """The user's resources when they set requests or limits, else a default sized for scheduling."""
    user = picker.resources
    if user is not None and (user.requests is not None or user.limits is not None):
        return user.model_dump(mode="json", exclude_none=True)
    return {"requests": dict(_DEFAULT_RESOURCES["requests"]), "limits": dict(_DEFAULT_RESOURCES["limits"])}


def _grpc_probe(service: str, initial_delay: int, period: int) -> Manifest:
    probe: Manifest = {"grpc": {"port": HEALTH_PORT, "service": service}}
    # The API server drops a zero delay (the field is omitempty), as Go clients never send it; a
    # zero here would read as drift against the stored object on every pass.
    if initial_delay:
        probe["initialDelaySeconds"] = initial_delay
    probe["periodSeconds"] = period
    return probe


def _epp_container(ms: ModelService, settings: OperatorSettings, picker: EndpointPickerSpec) -> Manifest:
    # With leader election the EPP answers readiness and liveness as separate gRPC health services
    # (only the leader reports ready); a single replica uses the one combined service.
    ha = picker.replicas > 1
    return {
        "name": "epp",
        "image": picker.image or settings.default_epp_image,
        "imagePullPolicy": "IfNotPresent",
        "args": epp_args(ms, settings, picker),
        "env": epp_env(settings),
        "resources": epp_resources(picker),
        "ports": [
            {"name": "grpc-ext-proc", "containerPort": defaults.epp_port(picker), "protocol": "TCP"},
            {"name": "grpc-health", "containerPort": HEALTH_PORT, "protocol": "TCP"},
            {"name": "http-metrics", "containerPort": METRICS_PORT, "protocol": "TCP"},
        ],
        "volumeMounts": [{"name": "epp-config", "mountPath": CONFIG_MOUNT_PATH, "readOnly": True}],
        "readinessProbe": _grpc_probe("readiness" if ha else "inference-extension", 0, 2),
        "livenessProbe": _grpc_probe("liveness" if ha else "inference-extension", 5, 10),
        "securityContext": serving.container_security_context(),
    }


def build_epp_deployment(ms: ModelService, settings: OperatorSettings) -> Manifest | None:
    """The EPP Deployment; always wanted."""
    picker = defaults.effective_endpoint_picker(ms, settings)
    pod_labels = labels.epp_pod_labels(ms)
    template_meta = {
        "labels": pod_labels,
        "annotations": {CONFIG_HASH_ANNOTATION: epp_config.config_map_hash(ms, settings.epp_generation)},
    }
    pod_spec: Manifest = {
        "serviceAccountName": names.epp_name(ms),
        "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
        "securityContext": serving.pod_security_context(),
        "containers": [_epp_container(ms, settings, picker)],
        # optional: EPP pods may start before the ConfigMap exists; they wait for the file.
        "volumes": [
            {"name": "epp-config", "configMap": {"name": names.epp_configmap_name(ms), "optional": True}}
        ],
    }
    spec: Manifest = {
        "replicas": defaults.default_replicas(picker.replicas),
        "strategy": {"type": "Recreate"},
        "selector": {"matchLabels": dict(pod_labels)},
        "template": {"metadata": template_meta, "spec": pod_spec},
    }
    metadata = meta.object_meta(ms, names.epp_name(ms), labels.epp_meta_labels(ms, settings.version))
    return meta.manifest("apps/v1", "Deployment", metadata, spec=spec)
