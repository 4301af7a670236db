"""API-server rules that schema validation misses, for the objects the operator generates.

The bundled Kubernetes schemas and the CRD schemas carry types and required fields only; the API
server enforces names, label syntax, enums, port ranges and cross-field rules in Go code. These are
the ones a builder can plausibly get wrong. Each check returns messages "path: reason".

Names, label keys and values and port names are judged by `shared.formats`, the rules admission
enforces: what these checks test is the builders' output, which nothing checks against those rules
before it gets here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from shared import formats

PULL_POLICIES = frozenset({"Always", "IfNotPresent", "Never"})
PROTOCOLS = frozenset({"TCP", "UDP", "SCTP"})
CLUSTER_SCOPED = frozenset({"ClusterRole", "ClusterRoleBinding", "Namespace"})


def check_nulls(value: Any, path: str = "") -> Iterator[str]:
    """Generated objects never contain null: it means a builder emitted an unset optional."""
    if value is None:
        yield f"{path or '<root>'}: null value"
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from check_nulls(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from check_nulls(item, f"{path}[{i}]")


def check_labels(labels: Mapping[str, Any], path: str) -> Iterator[str]:
    for key, value in labels.items():
        if formats.qualified_name(key):
            yield f"{path}: invalid label key {key!r}"
        if not isinstance(value, str) or formats.label_value(value):
            yield f"{path}: invalid value {value!r} for label {key!r}"


def check_metadata(obj: Mapping[str, Any]) -> Iterator[str]:
    """Name syntax by kind, namespace presence by scope, label and annotation syntax, owner refs."""
    meta = obj.get("metadata") or {}
    name, kind = meta.get("name", ""), obj.get("kind", "")
    valid = formats.is_dns1035_label(name) if kind == "Service" else not formats.dns1123_subdomain(name)
    if not valid:
        rule = "DNS-1035 label" if kind == "Service" else "DNS-1123 subdomain"
        yield f"metadata.name: {name!r} is not a valid {rule}"
    namespace = meta.get("namespace")
    if kind in CLUSTER_SCOPED and namespace is not None:
        yield f"metadata.namespace: cluster-scoped {kind} must not have a namespace"
    if namespace is not None and formats.dns1123_label(namespace):
        yield f"metadata.namespace: {namespace!r} is not a valid DNS-1123 label"
    yield from check_labels(meta.get("labels") or {}, "metadata.labels")
    for key in meta.get("annotations") or {}:
        if formats.qualified_name(key):
            yield f"metadata.annotations: invalid annotation key {key!r}"
    for i, ref in enumerate(meta.get("ownerReferences") or ()):
        if kind in CLUSTER_SCOPED:
            yield f"metadata.ownerReferences[{i}]: a cluster-scoped object cannot have a namespaced owner"
        if not ref.get("uid"):
            yield f"metadata.ownerReferences[{i}].uid: must be set"


def _check_ports(ports: list[Mapping[str, Any]], path: str) -> Iterator[str]:
    names = [p["name"] for p in ports if "name" in p]
    if len(set(names)) != len(names):
        yield f"{path}: duplicate port names {names}"
    for i, port in enumerate(ports):
        number = port.get("containerPort")
        if not isinstance(number, int) or not 1 <= number <= 65535:
            yield f"{path}[{i}].containerPort: {number!r} is not in 1..65535"
        if "name" in port and formats.port_name(port["name"]):
            yield f"{path}[{i}].name: {port['name']!r} is not a valid IANA service name"
        if port.get("protocol", "TCP") not in PROTOCOLS:
            yield f"{path}[{i}].protocol: {port['protocol']!r} is not one of {sorted(PROTOCOLS)}"


def _check_probe_ports(container: Mapping[str, Any], path: str) -> Iterator[str]:
    port_names = {p.get("name") for p in container.get("ports") or ()}
    for probe_key in ("startupProbe", "readinessProbe", "livenessProbe"):
        handler = (container.get(probe_key) or {}).get("httpGet") or {}
        port = handler.get("port")
        if isinstance(port, str) and port not in port_names:
            yield f"{path}.{probe_key}.httpGet.port: {port!r} names no port of this container"


def check_container(
    container: Mapping[str, Any], path: str, volumes: set[str], *, init: bool
) -> Iterator[str]:
    if formats.dns1123_label(container.get("name", "")):
        yield f"{path}.name: {container.get('name')!r} is not a valid DNS-1123 label"
    policy = container.get("imagePullPolicy")
    if policy is not None and policy not in PULL_POLICIES:
        yield f"{path}.imagePullPolicy: {policy!r} is not one of {sorted(PULL_POLICIES)}"
    restart = container.get("restartPolicy")
    if restart is not None and (not init or restart != "Always"):
        yield f"{path}.restartPolicy: only init containers may set it, and only to Always"
    yield from _check_ports(list(container.get("ports") or ()), f"{path}.ports")
    yield from _check_probe_ports(container, path)
    for i, mount in enumerate(container.get("volumeMounts") or ()):
        if mount.get("name") not in volumes:
            yield f"{path}.volumeMounts[{i}].name: {mount.get('name')!r} names no volume of the pod"
    for i, env in enumerate(container.get("env") or ()):
        if not env.get("name") or "=" in env["name"]:
            yield f"{path}.env[{i}].name: {env.get('name')!r} is not a valid variable name"


def check_pod_spec(pod: Mapping[str, Any], path: str) -> Iterator[str]:
    volume_names = [v.get("name", "") for v in pod.get("volumes") or ()]
    if len(set(volume_names)) != len(volume_names):
        yield f"{path}.volumes: duplicate volume names {volume_names}"
    for i, volume in enumerate(pod.get("volumes") or ()):
        if formats.dns1123_label(volume.get("name", "")):
            yield f"{path}.volumes[{i}].name: {volume.get('name')!r} is not a valid DNS-1123 label"
        if "secret" in volume and not volume["secret"].get("secretName"):
            yield f"{path}.volumes[{i}].secret.secretName: required"
        if "configMap" in volume and not volume["configMap"].get("name"):
            yield f"{path}.volumes[{i}].configMap.name: required"
    containers = [("initContainers", c) for c in pod.get("initContainers") or ()]
    containers += [("containers", c) for c in pod.get("containers") or ()]
    names = [c.get("name") for _, c in containers]
    if len(set(names)) != len(names):
        yield f"{path}: duplicate container names {names}"
    for i, (key, container) in enumerate(containers):
        index = i if key == "initContainers" else i - len(pod.get("initContainers") or ())
        yield from check_container(
            container, f"{path}.{key}[{index}]", set(volume_names), init=key == "initContainers"
        )


def check_deployment(obj: Mapping[str, Any]) -> Iterator[str]:
    spec = obj.get("spec") or {}
    replicas = spec.get("replicas", 1)
    if not isinstance(replicas, int) or not 0 <= replicas <= 2**31 - 1:
        yield f"spec.replicas: {replicas!r} is not in 0..2^31-1"
    selector = (spec.get("selector") or {}).get("matchLabels") or {}
    template = spec.get("template") or {}
    template_labels = (template.get("metadata") or {}).get("labels") or {}
    if not selector:
        yield "spec.selector: empty selector"
    yield from check_labels(template_labels, "spec.template.metadata.labels")
    missing = {k: v for k, v in selector.items() if template_labels.get(k) != v}
    if missing:
        yield f"spec.template.metadata.labels: selector does not match template labels (missing {missing})"
    yield from check_pod_spec(template.get("spec") or {}, "spec.template.spec")


def check_service(obj: Mapping[str, Any]) -> Iterator[str]:
    spec = obj.get("spec") or {}
    ports = list(spec.get("ports") or ())
    yield from check_labels(spec.get("selector") or {}, "spec.selector")
    names = [p.get("name") for p in ports]
    if len(ports) > 1 and (None in names or len(set(names)) != len(names)):
        yield f"spec.ports: multiple ports need unique names, got {names}"
    for i, port in enumerate(ports):
        if not isinstance(port.get("port"), int) or not 1 <= port["port"] <= 65535:
            yield f"spec.ports[{i}].port: {port.get('port')!r} is not in 1..65535"
        target = port.get("targetPort", port.get("port"))
        if isinstance(target, int) and not 1 <= target <= 65535:
            yield f"spec.ports[{i}].targetPort: {target} is not in 1..65535"
        if isinstance(target, str) and formats.port_name(target):
            yield f"spec.ports[{i}].targetPort: {target!r} is not a valid port name"
        if port.get("protocol", "TCP") not in PROTOCOLS:
            yield f"spec.ports[{i}].protocol: {port['protocol']!r} is not one of {sorted(PROTOCOLS)}"


def check_secret(obj: Mapping[str, Any]) -> Iterator[str]:
    if obj.get("type") == "kubernetes.io/service-account-token":
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        if not annotations.get("kubernetes.io/service-account.name"):
            yield "metadata.annotations: a token Secret needs kubernetes.io/service-account.name"


def check_binding(obj: Mapping[str, Any]) -> Iterator[str]:
    role_ref = obj.get("roleRef") or {}
    allowed = {"Role", "ClusterRole"} if obj.get("kind") == "RoleBinding" else {"ClusterRole"}
    if role_ref.get("kind") not in allowed or role_ref.get("apiGroup") != "rbac.authorization.k8s.io":
        yield f"roleRef: {role_ref} must reference one of {sorted(allowed)} in rbac.authorization.k8s.io"
    for i, subject in enumerate(obj.get("subjects") or ()):
        if subject.get("kind") == "ServiceAccount" and not subject.get("namespace"):
            yield f"subjects[{i}].namespace: a ServiceAccount subject needs a namespace"


_BY_KIND = {
    "Deployment": check_deployment,
    "Service": check_service,
    "Secret": check_secret,
    "RoleBinding": check_binding,
    "ClusterRoleBinding": check_binding,
}


def check_match_labels(value: Any, path: str = "") -> Iterator[str]:
    """Label syntax of every ``matchLabels`` map, wherever it sits (pools and monitors too)."""
    if isinstance(value, dict):
        for key, item in value.items():
            sub = f"{path}.{key}" if path else str(key)
            if key == "matchLabels" and isinstance(item, dict):
                yield from check_labels(item, sub)
            else:
                yield from check_match_labels(item, sub)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from check_match_labels(item, f"{path}[{i}]")


def check_object(obj: Mapping[str, Any]) -> list[str]:
    """Every API-server-only rule above that applies to ``obj``'s kind."""
    errors = [*check_nulls(obj), *check_metadata(obj), *check_match_labels(obj.get("spec"), "spec")]
    kind_check = _BY_KIND.get(obj.get("kind", ""))
    if kind_check is not None:
        errors += kind_check(obj)
    return errors
