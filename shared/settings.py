"""Operator settings: the one typed model both services read their configuration into.

Defaults are the reference operator's flag defaults, so a plain install renders the same children.
Each setting is declared here once; ``shared.flags`` turns the declaration into both services' flags,
their environment variables and the settings-file keys the services and the offline CLI read.
Constructing ``OperatorSettings(...)`` applies only its arguments; builders only ever read it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared import formats
from shared.flags import Flag, Settings

Provider = Literal["istio", "gke", "none"]
EppGeneration = Literal["gateway-api-inference-extension", "llm-d-router"]
"""Which Endpoint Picker the operator deploys; it decides the EPP config schema and default image.

``gateway-api-inference-extension`` is the reference's EPP, configured with the Gateway API
Inference Extension's ``inference.networking.x-k8s.io/v1alpha1`` EndpointPickerConfig.
``llm-d-router`` is the EPP after its move to the llm-d router project (``llm-d/llm-d-router``),
configured with ``llm-d.ai/v1alpha1``.
"""

DEFAULT_EPP_GENERATION: EppGeneration = "gateway-api-inference-extension"
DEFAULT_ENGINE_IMAGE = "ghcr.io/llm-d/llm-d-cuda:v0.5.1"
DEFAULT_EPP_IMAGE = "ghcr.io/llm-d/llm-d-inference-scheduler:v0.6.0"
# The llm-d router's release workflow publishes the EPP as `<repo>-endpoint-picker:<tag>`
# (llm-d/llm-d-router .github/workflows/ci-release.yaml); v0.10.0 is the release tag llm-d's
# release-pinned guides/env.sh deploys (ROUTER_EPP_VERSION).
LLM_D_ROUTER_EPP_IMAGE = "ghcr.io/llm-d/llm-d-router-endpoint-picker:v0.10.0"
DEFAULT_EPP_IMAGES: dict[EppGeneration, str] = {
    "gateway-api-inference-extension": DEFAULT_EPP_IMAGE,
    "llm-d-router": LLM_D_ROUTER_EPP_IMAGE,
}
"""The default EPP image of each generation."""
DEFAULT_ROUTING_PROXY_IMAGE = "ghcr.io/llm-d/llm-d-routing-sidecar:v0.6.0"
DEFAULT_KIT_IMAGE = "ghcr.io/kitops-ml/kitops:v1.11.0"
DEFAULT_GATEWAY_NAME = "otterscale-llm-d-infra-inference-gateway"
DEFAULT_GATEWAY_NAMESPACE = "llm-d"


class TracingSettings(BaseModel):
    """OpenTelemetry tracing for the EPP and the routing proxy."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    enabled: bool = False
    """Turn tracing on (EPP --tracing=true plus OTEL_* env)."""
    otel_exporter_endpoint: Annotated[str, Flag("otel-endpoint")] = ""
    """OTLP exporter endpoint (OTEL_EXPORTER_OTLP_ENDPOINT)."""
    sampler: str = "parentbased_traceidratio"
    """OTEL_TRACES_SAMPLER; empty omits it."""
    sampler_arg: str = "0.01"
    """OTEL_TRACES_SAMPLER_ARG; empty omits it."""


class OperatorSettings(Settings):
    """Everything operator-wide that shapes the children of a ModelService."""

    default_engine_image: str = DEFAULT_ENGINE_IMAGE
    """vLLM image when spec.engine.image is empty."""
    epp_generation: EppGeneration = DEFAULT_EPP_GENERATION
    """EPP generation: its config schema and, unless default_epp_image is given, its image."""
    default_epp_image: str = DEFAULT_EPP_IMAGE
    """EPP image when spec.inferencePool.endpointPicker.image is empty or there is no inferencePool;
    when not given (or None), the default image of epp_generation (the default shown is the
    default generation's)."""
    default_routing_proxy_image: str = DEFAULT_ROUTING_PROXY_IMAGE
    """Routing sidecar image when spec.routingProxy.image is empty."""
    kit_image: str = DEFAULT_KIT_IMAGE
    """KitOps image of the model-unpack init container; empty disables the init container."""
    kit_plain_http: bool = False
    """Pass --plain-http to `kit unpack` (only for registries without TLS)."""
    provider: Provider = "istio"
    """istio creates a DestinationRule for the EPP; gke skips the metrics token Secret."""
    epp_flags: Annotated[dict[str, str], Flag("epp-flag")] = Field(default_factory=dict)
    """Extra EPP arguments KEY=VALUE, emitted sorted by key as --KEY=VALUE."""
    metrics_endpoint_auth: bool = True
    """EPP protects /metrics with TokenReview/SubjectAccessReview; Prometheus sends a token."""
    default_gateway_name: str = DEFAULT_GATEWAY_NAME
    """Gateway of the default HTTPRoute; empty disables the default route."""
    default_gateway_namespace: str = DEFAULT_GATEWAY_NAMESPACE
    """Namespace of the default gateway."""
    tracing: TracingSettings = TracingSettings()
    """Tracing settings."""
    version: Annotated[str, Flag("operator-version")] = "devel"
    """Operator version, the app.kubernetes.io/version label on child metadata; empty omits it."""
    engine_startup_timeout_seconds: Annotated[int, Flag("engine-startup-timeout")] = Field(
        default=3600, ge=60
    )
    """Seconds vLLM may take to load a model before its startup probe fails the pod."""
    allowed_image_prefixes: Annotated[tuple[str, ...], Flag("allowed-image-prefix")] = ()
    """Image prefixes allowed for engine, routing-proxy and EPP images; empty allows all."""

    @model_validator(mode="before")
    @classmethod
    def _epp_image_follows_generation(cls, data: Any) -> Any:
        # Only an image that was actually given pins the EPP image; otherwise it follows the
        # generation, so switching generations needs one setting, not two that must agree.
        if not isinstance(data, dict) or data.get("default_epp_image") is not None:
            return data
        generation = data.get("epp_generation", DEFAULT_EPP_GENERATION)
        image = next((img for gen, img in DEFAULT_EPP_IMAGES.items() if gen == generation), None)
        if image is None:  # an unknown generation: let the field validation report it
            return {k: v for k, v in data.items() if k != "default_epp_image"}
        return {**data, "default_epp_image": image}

    @field_validator("default_engine_image", "default_epp_image", "default_routing_proxy_image", "kit_image")
    @classmethod
    def _image_reference(cls, image: str) -> str:
        # The spec's images get the same check at admission; a bad default would otherwise reach
        # every pod that leaves its image empty, and only fail there.
        reasons = formats.image_reference(image)
        if reasons:
            raise ValueError(f"{image!r}: {'; '.join(reasons)}")
        return image
