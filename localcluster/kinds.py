"""Per-kind behaviour of the built-in types: name rules, API-server defaults, validation.

The real server defaults many fields of built-in kinds (a Deployment gains a strategy, a
revisionHistoryLimit, container terminationMessagePaths, ...), and a controller that compares
whole objects would update forever. Reproducing the common defaults here lets the reconciler's
"update only on a real difference" logic be tested against realistic live objects. Validation
covers the rules a generated child object can plausibly break; it is not the full Go validation.
"""

from __future__ import annotations

import base64
import binascii
import itertools
from collections.abc import Callable
from typing import Any

from localcluster import errors, selectors, validation, webhooks
from localcluster.errors import FieldError
from localcluster.registry import ResourceType

Manifest = dict[str, Any]


def name_check(rt: ResourceType) -> validation.NameCheck:
    if rt.key == ("", "namespaces"):
        return validation.dns1123_label
    if rt.key == ("", "services"):
        return validation.dns1035_label
    if rt.group == "rbac.authorization.k8s.io":
        return validation.path_segment_name
    return validation.dns1123_subdomain


class ClusterIPs:
    """Hands out Service cluster IPs from 10.96.0.0/12, never reusing one."""

    def __init__(self) -> None:
        self._next = itertools.count(10)

    def allocate(self) -> str:
        n = next(self._next)
        return f"10.96.{n // 254}.{n % 254 + 1}"


# ----- defaults ------------------------------------------------------------------------------


def _pull_policy(image: str) -> str:
    last = image.rsplit("/", 1)[-1]
    if "@" in last:
        return "IfNotPresent"
    tag = last.partition(":")[2]
    return "Always" if tag in ("", "latest") else "IfNotPresent"


def _default_probe(probe: Any) -> None:
    if not isinstance(probe, dict):
        return
    for key, value in (
        ("timeoutSeconds", 1),
        ("periodSeconds", 10),
        ("successThreshold", 1),
        ("failureThreshold", 3),
    ):
        probe.setdefault(key, value)
    if isinstance(probe.get("httpGet"), dict):
        probe["httpGet"].setdefault("scheme", "HTTP")


def _default_container(container: Any) -> None:
    if not isinstance(container, dict):
        return
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    if isinstance(container.get("image"), str):
        container.setdefault("imagePullPolicy", _pull_policy(container["image"]))
    container.setdefault("resources", {})
    for port in container.get("ports") or ():
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        _default_probe(container.get(probe))


def default_pod_spec(spec: Any) -> None:
    if not isinstance(spec, dict):
        return
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for container in itertools.chain(spec.get("containers") or (), spec.get("initContainers") or ()):
        _default_container(container)
    for volume in spec.get("volumes") or ():
        for source in ("configMap", "secret"):
            if isinstance(volume, dict) and isinstance(volume.get(source), dict):
                volume[source].setdefault("defaultMode", 420)


def _default_deployment(obj: Manifest, _ips: ClusterIPs) -> None:
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    spec.setdefault("replicas", 1)
    spec.setdefault("strategy", {"type": "RollingUpdate"})
    strategy = spec["strategy"]
    if isinstance(strategy, dict) and strategy.get("type", "RollingUpdate") == "RollingUpdate":
        strategy.setdefault("type", "RollingUpdate")
        rolling = strategy.setdefault("rollingUpdate", {})
        if isinstance(rolling, dict):
            rolling.setdefault("maxUnavailable", "25%")
            rolling.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    template = spec.get("template")
    if isinstance(template, dict):
        default_pod_spec(template.get("spec"))


def _default_pod(obj: Manifest, _ips: ClusterIPs) -> None:
    default_pod_spec(obj.get("spec"))
    obj.setdefault("status", {"phase": "Pending", "qosClass": "BestEffort"})


def _default_service(obj: Manifest, _ips: ClusterIPs) -> None:
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    for port in spec.get("ports") or ():
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            if "port" in port:
                port.setdefault("targetPort", port["port"])
    if spec["type"] != "ExternalName":
        spec.setdefault("internalTrafficPolicy", "Cluster")
    obj.setdefault("status", {"loadBalancer": {}})


def allocate(rt: ResourceType, obj: Manifest, ips: ClusterIPs) -> None:
    """Values the real server allocates on create (a Service's cluster IP), never on update."""
    spec = obj.get("spec")
    if rt.key != ("", "services") or not isinstance(spec, dict) or spec.get("type") == "ExternalName":
        return
    if not spec.get("clusterIP"):
        spec["clusterIP"] = ips.allocate()
    spec.setdefault("clusterIPs", [spec["clusterIP"]])
    if spec["clusterIP"] != "None":
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")


def _default_secret(obj: Manifest, _ips: ClusterIPs) -> None:
    obj.setdefault("type", "Opaque")
    string_data = obj.pop("stringData", None)
    if isinstance(string_data, dict):
        data = obj.setdefault("data", {})
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()


def _default_namespace(obj: Manifest, _ips: ClusterIPs) -> None:
    meta = obj["metadata"]
    if meta.get("name"):
        meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
    obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    obj.setdefault("status", {}).setdefault("phase", "Active")


DEFAULTERS: dict[tuple[str, str], Callable[[Manifest, ClusterIPs], None]] = {
    ("apps", "deployments"): _default_deployment,
    ("", "pods"): _default_pod,
    ("", "services"): _default_service,
    ("", "secrets"): _default_secret,
    ("", "namespaces"): _default_namespace,
    webhooks.MUTATING: lambda obj, _ips: webhooks.default_config(obj, mutating=True),
    webhooks.VALIDATING: lambda obj, _ips: webhooks.default_config(obj, mutating=False),
}


def apply_defaults(rt: ResourceType, obj: Manifest, ips: ClusterIPs) -> None:
    defaulter = DEFAULTERS.get(rt.key)
    if defaulter is not None:
        defaulter(obj, ips)


def carry_over(rt: ResourceType, new: Manifest, old: Manifest) -> None:
    """Keep allocated values an update omitted (a Service's cluster IPs), as the real server does."""
    if rt.key == ("", "services") and isinstance(new.get("spec"), dict):
        old_spec = old.get("spec") or {}
        for key in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
            if key in old_spec and not new["spec"].get(key):
                new["spec"][key] = old_spec[key]


# ----- validation ----------------------------------------------------------------------------


def _containers(spec: Manifest, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    containers = spec.get("containers")
    if not containers:
        errs.append(errors.required(f"{path}.containers", ""))
    names: set[str] = set()
    for group in ("initContainers", "containers"):
        for i, c in enumerate(spec.get(group) or ()):
            cpath = f"{path}.{group}[{i}]"
            if not isinstance(c, dict):
                errs.append(errors.invalid(cpath, c, "must be an object"))
                continue
            name = c.get("name")
            if not name:
                errs.append(errors.required(f"{cpath}.name", ""))
            else:
                errs.extend(errors.invalid(f"{cpath}.name", name, m) for m in validation.dns1123_label(name))
                if name in names:
                    errs.append(errors.FieldError(errors.DUPLICATE, f"{cpath}.name", name))
                names.add(name)
            if not c.get("image"):
                errs.append(errors.required(f"{cpath}.image", ""))
            for j, port in enumerate(c.get("ports") or ()):
                number = port.get("containerPort") if isinstance(port, dict) else None
                if not isinstance(number, int) or not 1 <= number <= 65535:
                    errs.append(
                        errors.invalid(
                            f"{cpath}.ports[{j}].containerPort",
                            number,
                            "must be between 1 and 65535, inclusive",
                        )
                    )
    return errs


def _validate_deployment(obj: Manifest, old: Manifest | None) -> list[FieldError]:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [errors.required("spec", "")]
    errs: list[FieldError] = []
    replicas = spec.get("replicas")
    if isinstance(replicas, int) and replicas < 0:
        errs.append(errors.invalid("spec.replicas", replicas, "must be greater than or equal to 0"))
    selector = spec.get("selector")
    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    if not selector:
        errs.append(errors.required("spec.selector", ""))
    elif not selectors.matches(selectors.from_label_selector(selector), labels):
        errs.append(
            errors.invalid(
                "spec.template.metadata.labels", labels, "`selector` does not match template `labels`"
            )
        )
    if old is not None and selector != (old.get("spec") or {}).get("selector"):
        errs.append(errors.invalid("spec.selector", selector, "field is immutable"))
    errs.extend(_containers(template.get("spec") or {}, "spec.template.spec"))
    return errs


def _validate_service(obj: Manifest, old: Manifest | None) -> list[FieldError]:
    spec = obj.get("spec") or {}
    errs: list[FieldError] = []
    if spec.get("type") != "ExternalName" and not spec.get("ports") and spec.get("clusterIP") != "None":
        errs.append(errors.required("spec.ports", ""))
    for i, port in enumerate(spec.get("ports") or ()):
        number = port.get("port") if isinstance(port, dict) else None
        if not isinstance(number, int) or not 1 <= number <= 65535:
            errs.append(
                errors.invalid(f"spec.ports[{i}].port", number, "must be between 1 and 65535, inclusive")
            )
    if old is not None and (old.get("spec") or {}).get("clusterIP") not in (None, spec.get("clusterIP")):
        errs.append(errors.invalid("spec.clusterIP", spec.get("clusterIP"), "field is immutable"))
    return errs


def _validate_data(obj: Manifest, old: Manifest | None) -> list[FieldError]:
    errs = []
    for field in ("data", "binaryData"):
        for key in obj.get(field) or {}:
            if not key or any(not (ch.isalnum() or ch in "-._") for ch in key):
                errs.append(
                    errors.invalid(
                        f"{field}[{key}]",
                        key,
                        "a valid config key must consist of "
                        "alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or "
                        "'KEY_NAME',  or 'key-name', regex used for validation is "
                        "'[-._a-zA-Z0-9]+')",
                    )
                )
    if obj.get("kind") == "Secret":
        for key, value in (obj.get("data") or {}).items():
            try:
                base64.b64decode(value or "", validate=True)
            except (binascii.Error, TypeError):
                raise errors.bad_request(
                    'Secret in version "v1" cannot be handled as a Secret: '
                    f"illegal base64 data in data[{key}]"
                ) from None
        if obj.get("type") == "kubernetes.io/service-account-token":
            annotations = obj["metadata"].get("annotations") or {}
            if not annotations.get("kubernetes.io/service-account.name"):
                errs.append(errors.required("metadata.annotations[kubernetes.io/service-account.name]", ""))
    if old is not None and old.get("immutable") and obj.get("data") != old.get("data"):
        errs.append(
            errors.FieldError(
                errors.FORBIDDEN, "data", errors.OMIT, "field is immutable when `immutable` is set"
            )
        )
    return errs


VALIDATORS: dict[tuple[str, str], Callable[[Manifest, Manifest | None], list[FieldError]]] = {
    ("apps", "deployments"): _validate_deployment,
    ("", "services"): _validate_service,
    ("", "configmaps"): _validate_data,
    ("", "secrets"): _validate_data,
    webhooks.MUTATING: webhooks.validate_config,
    webhooks.VALIDATING: webhooks.validate_config,
}


def validate(rt: ResourceType, obj: Manifest, old: Manifest | None) -> list[FieldError]:
    validator = VALIDATORS.get(rt.key)
    return validator(obj, old) if validator is not None else []
