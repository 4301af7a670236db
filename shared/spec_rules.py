"""Rules on a parsed ModelService spec that its schema cannot express (validation layer 3).

Cross-field rules (ports that must differ, prefill needing the routing proxy), the semantics of the
embedded core types (env vars, tolerations, requests within limits) and the formats Kubernetes
enforces on the children that receive a value (label keys, hostnames, port names, object names).
Every rule reports at the field the user wrote, so a denial says what to change. Warnings are for
values the operator accepts but overrides or ignores.

`shared.validation` runs these after the models parsed, and drops findings that read a value it
had to prune.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from shared import engine_flags, formats
from shared.api import HTTPRouteSpec, ModelServiceSpec, ModelSpec, MonitoringSpec, RoleSpec
from shared.kube_types import EnvVar, ResourceRequirements, Toleration, parse_quantity, port_number

INVALID, REQUIRED, NOT_SUPPORTED = "FieldValueInvalid", "FieldValueRequired", "FieldValueNotSupported"
TYPE_INVALID, TOO_LONG, FORBIDDEN = "FieldValueTypeInvalid", "FieldValueTooLong", "FieldValueForbidden"
TOO_MANY = "FieldValueTooMany"

GPU_RESOURCES = {
    "nvidia": "nvidia.com/gpu",
    "amd": "amd.com/gpu",
    "intel-gaudi": "habana.ai/gaudi",
    "google": "google.com/tpu",
}
RESERVED_EPP_PORTS = {9003: "the EPP gRPC health port", 9090: "the EPP metrics port"}
NIXL_PORT_ENV = "VLLM_NIXL_SIDE_CHANNEL_PORT"
MAX_HOSTNAMES = 16
"""HTTPRoute `spec.hostnames` maxItems."""
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_PROM_DURATION = re.compile(
    r"^((([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?|0)$"
)
# How the builders read the NIXL port (Go's strconv.Atoi: optional sign, ASCII digits only).


@dataclass(frozen=True, order=True)
class FieldError:
    """One reason to reject: where (`spec.engine.args[2]`), why, and a Kubernetes cause type."""

    path: str
    message: str
    reason: str = INVALID
    policy: bool = False
    """Raised by the image policy (a permission question, not a malformed object)."""

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def spec_rules(spec: ModelServiceSpec) -> Iterator[FieldError]:
    """Every rule finding on a parsed spec."""
    yield from model_rules(spec.model)
    yield from image_rules(spec)
    for i, env in enumerate(spec.engine.env or ()):
        yield from env_var_rules(env, f"spec.engine.env[{i}]")
    yield from engine_args_rules(spec.engine.args or (), spec.model.mount_path)
    yield from nixl_port_rules(spec)
    for role_name, role in (("decode", spec.decode), ("prefill", spec.prefill)):
        if role is not None:
            yield from role_rules(role, f"spec.{role_name}")
    yield from port_rules(spec)
    if spec.http_route is not None:
        yield from http_route_rules(spec.http_route)
    if spec.monitoring is not None:
        yield from monitoring_rules(spec.monitoring)


def spec_warnings(spec: ModelServiceSpec) -> Iterator[str]:
    """Values the operator accepts but replaces or ignores, each prefixed with its path."""
    yield from gpu_warnings(spec)
    yield from nixl_port_warnings(spec)


def _invalid(path: str, value: str, reasons: Sequence[str]) -> Sequence[FieldError]:
    # A plain function: called for every checked value, almost always with no reasons at all.
    if not reasons:
        return ()
    shown = repr(value) if len(value) <= 80 else repr(value[:77] + "...")
    return [FieldError(path, f"Invalid value: {shown}: {reason}") for reason in reasons]


def model_rules(model: ModelSpec) -> Iterator[FieldError]:
    """Pull secrets are referenced by name from every serving pod."""
    for i, secret in enumerate(model.image_pull_secrets or ()):
        path = f"spec.model.imagePullSecrets[{i}].name"
        if not secret.name:
            why = (
                "the model-unpack init container mounts the first pull secret, which needs a name"
                if i == 0
                else "a pull secret reference needs a name"
            )
            yield FieldError(path, f"Required value: {why}", REQUIRED)
        else:
            yield from _invalid(path, secret.name, formats.dns1123_subdomain(secret.name))


def image_rules(spec: ModelServiceSpec) -> Iterator[FieldError]:
    """Every image the spec names reaches a pod verbatim, so a malformed one is denied at its field."""
    images = [("spec.model.image", spec.model.image), ("spec.engine.image", spec.engine.image)]
    if spec.routing_proxy is not None:
        images.append(("spec.routingProxy.image", spec.routing_proxy.image))
    if spec.inference_pool is not None:
        images.append(("spec.inferencePool.endpointPicker.image", spec.inference_pool.endpoint_picker.image))
    for path, image in images:
        if image is not None:
            yield from _invalid(path, image, formats.image_reference(image))


def port_rules(spec: ModelServiceSpec) -> Iterator[FieldError]:
    """Ports that share a pod must differ; prefill pods need the proxy that calls them."""
    if spec.inference_pool is not None:
        picker = spec.inference_pool.endpoint_picker
        if picker.resources is not None:
            yield from resources_rules(picker.resources, "spec.inferencePool.endpointPicker.resources")
        if picker.port in RESERVED_EPP_PORTS:
            yield FieldError(
                "spec.inferencePool.endpointPicker.port",
                f"Invalid value: {picker.port}: collides with {RESERVED_EPP_PORTS[picker.port]}",
            )
    if spec.prefill is not None and spec.routing_proxy is None:
        yield FieldError(
            "spec.routingProxy",
            "Required value: spec.prefill is set; prefill/decode disaggregation needs the routing proxy",
            REQUIRED,
        )
    if spec.routing_proxy is not None and spec.routing_proxy.target_port == spec.engine.port:
        yield FieldError(
            "spec.routingProxy.targetPort",
            f"Invalid value: {spec.engine.port}: must differ from spec.engine.port; the proxy listens "
            "there and vLLM behind it",
        )


def _nixl_entry(spec: ModelServiceSpec) -> tuple[int, EnvVar] | None:
    """The FIRST VLLM_NIXL_SIDE_CHANNEL_PORT entry and its index: the one the builders read."""
    return next(((i, e) for i, e in enumerate(spec.engine.env or ()) if e.name == NIXL_PORT_ENV), None)


def nixl_port(value: str | None) -> int | None:
    """The side-channel port the builders declare for `value`, None when they ignore it."""
    return port_number(value)


def nixl_port_rules(spec: ModelServiceSpec) -> Iterator[FieldError]:
    """The side channel gets a container port of its own, so it must not reuse a serving port."""
    found = _nixl_entry(spec)
    port = nixl_port(found[1].value) if found is not None else None
    if found is None or port is None:
        return
    proxied = spec.routing_proxy is not None
    taken = {spec.engine.port: ("spec.engine.port", "the routing proxy" if proxied else "vLLM")}
    if spec.routing_proxy is not None:
        taken.setdefault(spec.routing_proxy.target_port, ("spec.routingProxy.targetPort", "vLLM"))
    if port in taken:
        field, listener = taken[port]
        yield FieldError(
            f"spec.engine.env[{found[0]}].value",
            f"Invalid value: {found[1].value!r}: {NIXL_PORT_ENV} equals {field} ({port}), where "
            f"{listener} listens; the side channel needs a port of its own",
        )


def nixl_port_warnings(spec: ModelServiceSpec) -> Iterator[str]:
    found = _nixl_entry(spec)
    if found is None or nixl_port(found[1].value) is not None:
        return
    i, env = found
    if env.value is None:
        yield (
            f"spec.engine.env[{i}]: {NIXL_PORT_ENV} has no literal value; the operator declares no "
            "side-channel container port for it"
        )
    else:
        yield (
            f"spec.engine.env[{i}].value: {env.value!r} is not an integer in 1..65535; the operator "
            "ignores it and declares no side-channel container port"
        )


def role_rules(role: RoleSpec, path: str) -> Iterator[FieldError]:
    if role.resources is not None:
        yield from resources_rules(role.resources, f"{path}.resources")
    for i, toleration in enumerate(role.tolerations or ()):
        yield from toleration_rules(toleration, f"{path}.tolerations[{i}]")
    for key, value in (role.node_selector or {}).items():
        at = f"{path}.nodeSelector[{key}]"
        if reasons := formats.qualified_name(key):
            yield from _invalid(at, key, [f"not a valid label key: {r}" for r in reasons])
        if reasons := formats.label_value(value):
            yield from _invalid(at, value, [f"not a valid label value: {r}" for r in reasons])
    if role.annotations:
        yield from annotations_rules(role.annotations, f"{path}.annotations")


def annotations_rules(annotations: Mapping[str, str], path: str) -> Iterator[FieldError]:
    """Pod template annotations: the API server checks keys case-insensitively and caps the size."""
    for key in annotations:
        reasons = formats.qualified_name(key.lower())
        yield from _invalid(f"{path}[{key}]", key, [f"not a valid annotation key: {r}" for r in reasons])
    if formats.annotations_too_large(annotations):
        size = formats.annotations_size(annotations)
        yield FieldError(
            path,
            f"Too long: {size} bytes: annotations may not be more than {formats.ANNOTATIONS_MAX_BYTES} "
            "bytes in total (keys and values)",
            TOO_LONG,
        )


def http_route_rules(route: HTTPRouteSpec) -> Iterator[FieldError]:
    """The Gateway reference and hostnames are copied into the HTTPRoute, which checks them."""
    ref = route.gateway_ref
    yield from _invalid("spec.httpRoute.gatewayRef.name", ref.name, formats.dns1123_subdomain(ref.name))
    if ref.namespace:
        yield from _invalid(
            "spec.httpRoute.gatewayRef.namespace", ref.namespace, formats.dns1123_label(ref.namespace)
        )
    hostnames = route.hostnames or ()
    if len(hostnames) > MAX_HOSTNAMES:
        yield FieldError(
            "spec.httpRoute.hostnames",
            f"Too many: {len(hostnames)}: must have at most {MAX_HOSTNAMES} items (an HTTPRoute's limit)",
            TOO_MANY,
        )
    for i, hostname in enumerate(hostnames):
        yield from _invalid(f"spec.httpRoute.hostnames[{i}]", hostname, formats.gateway_hostname(hostname))


def monitoring_rules(monitoring: MonitoringSpec) -> Iterator[FieldError]:
    """The PodMonitor endpoint: a container port name, an absolute path, a Prometheus duration."""
    pod_monitor = monitoring.pod_monitor
    if pod_monitor is None:
        return
    at = "spec.monitoring.podMonitor"
    yield from _invalid(f"{at}.portName", pod_monitor.port_name, formats.port_name(pod_monitor.port_name))
    if not pod_monitor.path.startswith("/"):
        yield FieldError(
            f"{at}.path",
            f"Invalid value: {pod_monitor.path!r}: must be an absolute URL path starting with '/'",
        )
    if not (pod_monitor.interval and _PROM_DURATION.match(pod_monitor.interval)):
        yield FieldError(
            f"{at}.interval",
            f"Invalid value: {pod_monitor.interval!r}: must be a Prometheus duration such as 30s, 1m30s "
            "or 5m",
        )


def env_var_rules(env: EnvVar, path: str) -> Iterator[FieldError]:
    if not _ENV_NAME.match(env.name):
        yield FieldError(
            f"{path}.name",
            f"Invalid value: {env.name!r}: a valid environment variable name must consist of alphabetic "
            "characters, digits, '_', '-', or '.', and must not start with a digit",
        )
    source = env.value_from
    if source is None:
        return
    if env.value:
        yield FieldError(f"{path}.valueFrom", "Invalid value: may not be specified when `value` is not empty")
    count = sum(
        s is not None
        for s in (
            source.config_map_key_ref,
            source.field_ref,
            source.file_key_ref,
            source.resource_field_ref,
            source.secret_key_ref,
        )
    )
    if count != 1:
        yield FieldError(
            f"{path}.valueFrom",
            f"Invalid value: {count} sources: must specify exactly one of configMapKeyRef, fieldRef, "
            "fileKeyRef, resourceFieldRef or secretKeyRef",
        )


def engine_args_rules(args: Sequence[str], mount_path: str) -> Iterator[FieldError]:
    """User args must not set what the operator passes vLLM: its flags, in every spelling vLLM
    accepts (`shared.engine_flags`), and the model path."""
    values_of: engine_flags.OwnedFlag | None = None  # the denied flag whose values follow
    for i, arg in enumerate(args):
        owned = engine_flags.owned_flag(arg)
        if owned is not None:
            written = engine_flags.option_name(arg)
            named = written if written == owned.name else f"{written} ({owned.name})"
            yield FieldError(
                f"spec.engine.args[{i}]",
                f"Forbidden: {named} is set by the operator (from {owned.source}); remove it from args",
                FORBIDDEN,
            )
            values_of = owned if engine_flags.takes_next(arg) else None
        elif values_of is not None and not arg.startswith("-"):
            # The denied flag's value goes with it: one finding, and never read as the model path.
            values_of = values_of if values_of.many else None
        else:
            values_of = None
            if arg == mount_path and not _is_flag_value(args, i):
                yield FieldError(
                    f"spec.engine.args[{i}]",
                    f"Forbidden: the model path {mount_path!r} is the operator's first positional "
                    "argument; remove it from args",
                    FORBIDDEN,
                )


def _is_flag_value(args: Sequence[str], i: int) -> bool:
    return i > 0 and args[i - 1].startswith("-") and "=" not in args[i - 1]


def resources_rules(resources: ResourceRequirements, path: str) -> Iterator[FieldError]:
    limits, requests = resources.limits or {}, resources.requests or {}
    for key, request in requests.items():
        if key in limits and parse_quantity(request) > parse_quantity(limits[key]):
            yield FieldError(
                f"{path}.requests[{key}]",
                f"Invalid value: {request!r}: must be less than or equal to {key} limit of {limits[key]}",
            )


def toleration_rules(toleration: Toleration, path: str) -> Iterator[FieldError]:
    if toleration.operator == "Exists" and toleration.value:
        yield FieldError(
            f"{path}.value",
            f"Invalid value: {toleration.value!r}: value must be empty when `operator` is 'Exists'",
        )
    if not toleration.key and toleration.operator != "Exists":
        yield FieldError(f"{path}.operator", "Invalid value: operator must be Exists when `key` is empty")
    if toleration.toleration_seconds is not None and toleration.effect != "NoExecute":
        yield FieldError(
            f"{path}.effect",
            f"Invalid value: {toleration.effect!r}: effect must be 'NoExecute' when `tolerationSeconds` "
            "is set",
        )


def gpu_warnings(spec: ModelServiceSpec) -> Iterator[str]:
    """Accelerator counts are the operator's: tensor x dataLocal per pod."""
    ours = GPU_RESOURCES.get(spec.accelerator.type)
    for role_name, role in (("decode", spec.decode), ("prefill", spec.prefill)):
        if role is None or role.resources is None:
            continue
        p = role.parallelism
        count = max(p.tensor, 1) * max(p.data_local, 1) if p is not None else 1
        for kind, values in (("limits", role.resources.limits), ("requests", role.resources.requests)):
            for key in values or {}:
                if key not in GPU_RESOURCES.values():
                    continue
                at = f"spec.{role_name}.resources.{kind}[{key}]"
                if key == ours:
                    yield f"{at}: set by hand; the operator replaces it with {count} (tensor x dataLocal)"
                else:
                    kind_ = spec.accelerator.type
                    yield f"{at}: does not match spec.accelerator.type {kind_!r}; kept as written"
