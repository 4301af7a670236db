"""The ModelService API (``model.otterscale.io/v1alpha1``) as frozen pydantic models.

Python names are snake_case, the wire is camelCase. A pydantic default exists exactly where the CRD
declares a schema default, so the CRD generator (``shared.crd``) and the mutating webhook derive the
same defaults from one place; every other optional field defaults to ``None`` and is omitted on the
wire. Presence matters in this API (``prefill: {}`` turns on disaggregation), which is why optional
objects are ``None`` rather than empty models.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    ConfigDict,
    Field,
    PlainValidator,
    SerializerFunctionWrapHandler,
    WithJsonSchema,
    model_serializer,
)

from shared import formats
from shared.kube_types import (
    Bool,
    EnvVar,
    Int32,
    Int64,
    LocalObjectReference,
    Port,
    PullPolicy,
    Quantity,
    ResourceRequirements,
    Toleration,
    WireModel,
)

GROUP = "model.otterscale.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "ModelService"
LIST_KIND = "ModelServiceList"
PLURAL = "modelservices"
SINGULAR = "modelservice"
SHORT_NAMES = ("ms",)
CATEGORIES = ("otterscale",)
CRD_NAME = f"{PLURAL}.{GROUP}"

AcceleratorType = Literal["nvidia", "amd", "intel-gaudi", "google", "cpu"]
FailureMode = Literal["FailOpen", "FailClose"]
Phase = Literal["Pending", "Running", "Ready", "Failed"]
ConditionStatus = Literal["True", "False", "Unknown"]
AutoscalingEngine = Literal["hpa", "keda"]


def _int_or_string(value: Any) -> int | str:
    # One check and one message: a plain `int | str` union would report an error per branch.
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("must be an integer or a string")
    return value


IntOrString = Annotated[
    int | str,
    PlainValidator(_int_or_string),
    WithJsonSchema({"anyOf": [{"type": "integer"}, {"type": "string"}], "x-kubernetes-int-or-string": True}),
]
"""An integer or a string, kept as written (Kubernetes' IntOrString): `1` and `"25%"`."""


class ModelSpec(WireModel):
    """The model to serve: an OCI ModelPack unpacked into the serving pods."""

    name: str = Field(min_length=1, max_length=253)
    """Served model name, passed to vLLM as --served-model-name."""
    image: str = Field(min_length=1)
    """OCI reference of the ModelPack; pulled and unpacked by the model-unpack init container."""
    mount_path: str = "/models"
    """Where the unpacked model lives in the serving containers; the first vLLM argument."""
    image_pull_secrets: tuple[LocalObjectReference, ...] | None = None
    """Pull secrets for the model and images; the first is also the docker config for kit."""


class EngineSpec(WireModel):
    """The vLLM engine shared by decode and prefill pods."""

    image: str | None = None
    """vLLM image; empty takes the operator's default engine image."""
    image_pull_policy: PullPolicy | None = None
    """Pull policy of the vLLM container."""
    args: tuple[str, ...] | None = None
    """Extra vLLM arguments, appended after the generated ones."""
    env: tuple[EnvVar, ...] | None = None
    """Extra environment variables, appended after the generated ones."""
    port: Port = 8000
    """External serving port (the routing proxy's port when the proxy is enabled)."""


class AcceleratorSpec(WireModel):
    """The accelerator vendor; selects the extended resource requested per GPU."""

    type: AcceleratorType
    """Accelerator vendor: nvidia, amd, intel-gaudi, google or cpu."""


class ParallelismSpec(WireModel):
    """vLLM parallelism; tensor x dataLocal accelerators are requested per pod."""

    tensor: Annotated[Int32, Field(ge=1)] = 1
    """Tensor parallel size (--tensor-parallel-size)."""
    data: Annotated[Int32, Field(ge=1)] = 1
    """Data parallel size across pods (--data-parallel-size)."""
    data_local: Annotated[Int32, Field(ge=1)] = 1
    """Data parallel ranks inside one pod (--data-parallel-size-local)."""


class AutoscalingMetric(WireModel):
    """A metric of your own to scale on, with its target average per pod."""

    name: str = Field(min_length=1)
    """HPA: the metric's name in the custom metrics API, as the Prometheus adapter serves it.
    KEDA: the name of the trigger."""
    average_value: Quantity
    """Target value per pod: the autoscaler adds pods while the average is above it."""
    query: str | None = None
    """KEDA only: a PromQL query whose result is the metric's total over this group's pods."""


class AutoscalingSpec(WireModel):
    """Horizontal autoscaling of one pod group, on vLLM's own metrics or metrics of your own.

    The autoscaler owns the replica count, so `replicas` must not be set beside it. With engine
    hpa the operator creates a HorizontalPodAutoscaler that reads Pods metrics from the custom
    metrics API (a Prometheus adapter); with engine keda, a KEDA ScaledObject that queries
    Prometheus itself (the only way to scale to zero).
    """

    engine: AutoscalingEngine = "hpa"
    """hpa (a HorizontalPodAutoscaler) or keda (a KEDA ScaledObject; KEDA must be installed)."""
    min_replicas: Annotated[Int32, Field(ge=0)] = 1
    """Fewest pods; 0 (scale to zero) only with engine keda."""
    max_replicas: Annotated[Int32, Field(ge=1)]
    """Most pods."""
    requests_waiting: Quantity | None = None
    """Target of vllm:num_requests_waiting per pod: requests queued in vLLM, not yet running."""
    kv_cache_usage: Quantity | None = None
    """Target of vllm:kv_cache_usage_perc per pod, a fraction of the KV cache: 0.8 is 80 %."""
    metrics: tuple[AutoscalingMetric, ...] | None = Field(
        default=None,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    """Metrics of your own, besides or instead of the two above."""
    prometheus_address: str | None = None
    """KEDA only: the Prometheus server KEDA queries, e.g. http://prometheus.monitoring.svc:9090."""


class RolloutStrategy(WireModel):
    """How a pod group rolls to a new pod template: pods added above, and taken below, the count.

    Unset fields keep the default: for pods with accelerators maxSurge 0 and maxUnavailable 1 (a
    rollout never needs a spare GPU), for CPU pods Kubernetes' 25 % each.
    """

    max_surge: IntOrString | None = None
    """Pods created above the desired count during a rollout: a number or a percentage."""
    max_unavailable: IntOrString | None = None
    """Pods that may be unavailable during a rollout: a number or a percentage."""


class RoleSpec(WireModel):
    """One group of serving pods: decode (or unified) or prefill."""

    # The schema cannot tell a written `replicas` from a defaulted one, so it has no default: the
    # mutating webhook writes 1 only where autoscaling is absent, and this rule keeps the two
    # apart even where the webhook is not asked (the scale subresource).
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "!has(self.replicas) || !has(self.autoscaling)",
                    "message": "replicas and autoscaling are mutually exclusive: the autoscaler owns "
                    "the replica count",
                    "fieldPath": ".replicas",
                    "reason": "FieldValueForbidden",
                }
            ]
        }
    )

    replicas: Annotated[Int32, Field(ge=0)] | None = None
    """Number of pods; absent means 1. Not with autoscaling."""
    autoscaling: AutoscalingSpec | None = None
    """Scale the pods with an autoscaler instead of a fixed count."""
    rollout_strategy: RolloutStrategy | None = None
    """How the pods roll when their template changes."""
    parallelism: ParallelismSpec | None = None
    """Parallelism of each pod."""
    resources: ResourceRequirements | None = None
    """vLLM container resources; accelerator entries are set by the operator from parallelism."""
    node_selector: dict[str, str] | None = None
    """Node labels the pods must match."""
    tolerations: tuple[Toleration, ...] | None = None
    """Taints the pods tolerate."""
    annotations: dict[str, str] | None = None
    """Annotations copied onto the pod template of this role."""


class RoutingProxySpec(WireModel):
    """The llm-d routing sidecar in decode pods (required for prefill/decode disaggregation)."""

    image: str | None = None
    """Sidecar image; empty takes the operator's default routing-proxy image."""
    connector: str = "nixlv2"
    """KV-cache connector between prefill and decode (--connector)."""
    target_port: Port = 8200
    """Port vLLM listens on behind the proxy in decode pods."""
    zap_encoder: str | None = None
    """Sidecar log encoding (--zap-encoder)."""
    zap_log_level: str | None = None
    """Sidecar log level (--zap-log-level)."""
    secure_proxy: Bool | None = None
    """Serve the proxy over TLS (--secure-proxy)."""
    # The wire name keeps upstream's "TLS" capitalisation, which to_camel would spell "Tls".
    prefiller_use_tls: Bool | None = Field(default=None, alias="prefillerUseTLS")
    """Call prefill pods over TLS (--prefiller-use-tls); unset omits the flag."""
    cert_path: str | None = None
    """Directory of the proxy's TLS certificate (--cert-path)."""


class EndpointPickerSpec(WireModel):
    """The Endpoint Picker (EPP) deployment that schedules each request onto a pod."""

    image: str | None = None
    """EPP image; empty takes the operator's default EPP image."""
    replicas: Annotated[Int32, Field(ge=0)] = 1
    """EPP replicas; more than one turns on EPP leader election."""
    resources: ResourceRequirements | None = None
    """EPP container resources; empty takes requests cpu 4, memory 8Gi and limit memory 16Gi."""
    port: Port = 9002
    """ext-proc gRPC port of the EPP (container, Service and pool reference)."""
    failure_mode: FailureMode = "FailOpen"
    """What the gateway does when the EPP is unreachable."""


class InferencePoolSpec(WireModel):
    """Explicit InferencePool and EPP settings; without it a default pool and EPP are still created."""

    endpoint_picker: EndpointPickerSpec
    """The Endpoint Picker of the pool."""


class GatewayRef(WireModel):
    """The Gateway an HTTPRoute attaches to."""

    name: str = Field(min_length=1)
    """Gateway name."""
    namespace: str | None = None
    """Gateway namespace; empty means the ModelService's namespace."""


class HTTPRouteSpec(WireModel):
    """An explicit HTTPRoute to the model's InferencePool."""

    gateway_ref: GatewayRef
    """The parent Gateway."""
    hostnames: tuple[str, ...] | None = None
    """Route hostnames; empty matches every host."""


class PodMonitorSpec(WireModel):
    """Prometheus scraping of the serving pods (and of the EPP when enabled explicitly)."""

    enabled: Bool = False
    """Create PodMonitors (and the EPP ServiceMonitor with an explicit inferencePool)."""
    port_name: str = "http"
    """Container port name to scrape."""
    path: str = "/metrics"
    """HTTP path to scrape."""
    interval: str = "30s"
    """Scrape interval, a Prometheus duration."""


class MonitoringSpec(WireModel):
    """Monitoring settings."""

    pod_monitor: PodMonitorSpec | None = None
    """PodMonitor settings; absent keeps the serving PodMonitors on."""


class ModelServiceSpec(WireModel):
    """Desired state of a ModelService."""

    model: ModelSpec
    """The model to serve."""
    engine: EngineSpec
    """The vLLM engine."""
    accelerator: AcceleratorSpec
    """The accelerator vendor."""
    decode: RoleSpec
    """Decode (or unified) serving pods."""
    prefill: RoleSpec | None = None
    """Prefill pods; present turns on prefill/decode disaggregation."""
    routing_proxy: RoutingProxySpec | None = None
    """Routing sidecar in decode pods; required with prefill."""
    inference_pool: InferencePoolSpec | None = None
    """Explicit InferencePool and EPP settings."""
    http_route: HTTPRouteSpec | None = None
    """Explicit HTTPRoute; absent uses the operator's default gateway, if configured."""
    monitoring: MonitoringSpec | None = None
    """Monitoring settings."""


class Condition(WireModel):
    """A metav1.Condition."""

    # metav1.Condition's limit of 316: a prefix and a name part at their longest, the '/' not counted.
    type: str = Field(
        max_length=formats.DNS1123_SUBDOMAIN_MAX + formats.NAME_PART_MAX,
        pattern=formats.QUALIFIED_NAME_PATTERN,
    )
    """Condition type in CamelCase."""
    status: ConditionStatus
    """True, False or Unknown."""
    observed_generation: Annotated[Int64, Field(ge=0)] | None = None
    """The .metadata.generation the condition was set for."""
    last_transition_time: str = Field(json_schema_extra={"format": "date-time"})
    """When the condition last changed status."""
    reason: str = Field(
        min_length=1, max_length=formats.CONDITION_REASON_MAX, pattern=formats.CONDITION_REASON_PATTERN
    )
    """Programmatic identifier of the last transition, in CamelCase."""
    message: str = Field(max_length=32768)
    """Human-readable details of the last transition."""


class PodFailure(WireModel):
    """The last failure seen in one pod group, in the pod's (or its Deployment's) own words."""

    reason: str = Field(min_length=1, max_length=1024)
    """Unschedulable, ImagePullFailed, ContainerCreateFailed, ModelUnpackFailed, EngineCrashLoop,
    CrashLoop, RolloutStuck, ProgressDeadlineExceeded or ReplicaFailure."""
    message: str = Field(max_length=32768)
    """What the scheduler, kubelet or container said, on one line, credentials masked."""
    pod: str | None = None
    """The pod quoted; absent when the Deployment itself failed (pods cannot be created)."""
    time: str = Field(json_schema_extra={"format": "date-time"})
    """When it happened, if the pod says so (a termination, the scheduler's verdict), else when
    the reconciler first saw it."""


class LastFailures(WireModel):
    """The last failure of each pod group; kept after the group recovers, as a container's lastState."""

    decode: PodFailure | None = None
    """Decode (or unified) serving pods."""
    prefill: PodFailure | None = None
    """Prefill pods."""
    endpoint_picker: PodFailure | None = None
    """Endpoint Picker pods."""


class PodGroupStatus(WireModel):
    """One pod group's Deployment as last observed; decode's is the scale subresource's status."""

    replicas: Int32 | None = None
    """Pods the Deployment has (status.replicas)."""
    ready_replicas: Int32 | None = None
    """Pods that are ready."""
    updated_replicas: Int32 | None = None
    """Pods with the current pod template."""
    selector: str | None = None
    """The pods' label selector as a string (a=b,c=d), for autoscalers that target the ModelService."""


class ModelServiceStatus(WireModel):
    """Observed state of a ModelService."""

    observed_generation: Int64 | None = None
    """The .metadata.generation the status was derived from."""
    phase: Phase | None = None
    """Pending, Running, Ready or Failed."""
    decode_ready: Int32 | None = None
    """Ready decode pods."""
    decode_replicas: Int32 | None = None
    """Desired decode pods."""
    prefill_ready: Int32 | None = None
    """Ready prefill pods."""
    prefill_replicas: Int32 | None = None
    """Desired prefill pods."""
    decode: PodGroupStatus | None = None
    """The decode Deployment's pods."""
    prefill: PodGroupStatus | None = None
    """The prefill Deployment's pods."""
    conditions: tuple[Condition, ...] | None = Field(
        default=None,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    """Ready plus one condition per area (serving pods, EPP, routing, integrations, autoscaling)."""
    last_failure: LastFailures | None = None
    """The last failure of each pod group (why its pods could not start or keep running)."""


class OwnerReference(WireModel):
    """A metav1.OwnerReference (read side only)."""

    api_version: str
    kind: str
    name: str
    uid: str
    controller: Bool | None = None
    block_owner_deletion: Bool | None = None


class ObjectMeta(WireModel):
    """The parts of metav1.ObjectMeta the operator reads."""

    @model_serializer(mode="wrap")
    def _omit_empty_identity(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # name, namespace and uid default to "" so code can use them as plain strings; on the wire
        # an unset identity field is absent, as the API server writes it.
        data: dict[str, Any] = handler(self)
        return {k: v for k, v in data.items() if not (k in _IDENTITY_FIELDS and v == "")}

    name: str = ""
    generate_name: str | None = None
    namespace: str = ""
    uid: str = ""
    resource_version: str | None = None
    generation: Int64 | None = None
    creation_timestamp: str | None = None
    deletion_timestamp: str | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    finalizers: tuple[str, ...] | None = None
    owner_references: tuple[OwnerReference, ...] | None = None


_IDENTITY_FIELDS = frozenset({"name", "namespace", "uid"})


class ModelService(WireModel):
    """ModelService serves one model with vLLM behind an InferencePool and its Endpoint Picker."""

    api_version: str = API_VERSION
    kind: str = KIND
    metadata: ObjectMeta = ObjectMeta()
    spec: ModelServiceSpec
    status: ModelServiceStatus | None = None

    @classmethod
    def from_manifest(cls, obj: dict[str, Any]) -> ModelService:
        """Read a ModelService from its wire form (unknown fields ignored)."""
        return cls.model_validate(obj)

    def to_manifest(self) -> dict[str, Any]:
        """The wire form: camelCase, unset optional fields omitted."""
        return self.model_dump(mode="json", exclude_none=True)
