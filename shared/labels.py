"""Label sets of every child, split into stable selector labels and metadata-only labels.

Selectors are immutable on Deployments and pod template labels restart pods when they change, so
neither ever carries the operator version (the reference put it into pod templates, so every
operator upgrade restarted every model server). The version stays on object metadata.
"""

from __future__ import annotations

from shared import names
from shared.api import ModelService
from shared.names import Role

NAME = "app.kubernetes.io/name"
COMPONENT = "app.kubernetes.io/component"
PART_OF = "app.kubernetes.io/part-of"
MANAGED_BY = "app.kubernetes.io/managed-by"
VERSION = "app.kubernetes.io/version"

PART_OF_VALUE = "otterscale-system"
MANAGED_BY_VALUE = "model-operator"

ROLE = "llm-d.ai/role"
INFERENCE_SERVING = "llm-d.ai/inferenceServing"
MODEL = "llm-d.ai/model"
INFERENCE_POOL = "inferencepool"
TRUE = "true"

COMPONENT_DECODE = "model-decode"
COMPONENT_PREFILL = "model-prefill"
COMPONENT_EPP = "epp"

# Ownership labels (ours, metadata only): let the reconciler find every child of a ModelService
# with one selector, and prove ownership of cluster-scoped children that cannot carry an
# ownerReference to a namespaced owner.
OWNER_NAME = "model.otterscale.io/modelservice"
OWNER_NAMESPACE = "model.otterscale.io/modelservice-namespace"
OWNER_UID = "model.otterscale.io/modelservice-uid"

MANAGED_SELECTOR = f"{MANAGED_BY}={MANAGED_BY_VALUE}"
"""Label selector matching every child (used by the reconciler's caches). It deliberately does not
require the ownership labels, so children created by the reference operator are seen and adopted."""


def role_component(role: Role) -> str:
    return COMPONENT_DECODE if role == "decode" else COMPONENT_PREFILL


def selector_labels(name: str, component: str) -> dict[str, str]:
    """SEL(name, component): the stable base of every selector."""
    return {NAME: name, COMPONENT: component, PART_OF: PART_OF_VALUE, MANAGED_BY: MANAGED_BY_VALUE}


def standard_labels(name: str, component: str, version: str) -> dict[str, str]:
    """STD(name, component): SEL plus the version label (omitted when the version is empty)."""
    labels = selector_labels(name, component)
    if version:
        labels[VERSION] = version
    return labels


def owner_labels(ms: ModelService, *, cluster_scoped: bool = False) -> dict[str, str]:
    """Ownership labels; cluster-scoped children also carry the owner's namespace and uid."""
    labels = {OWNER_NAME: ms.metadata.name}
    if cluster_scoped:
        labels[OWNER_NAMESPACE] = ms.metadata.namespace
        if ms.metadata.uid:
            labels[OWNER_UID] = ms.metadata.uid
    return labels


def serving_meta_labels(ms: ModelService, role: Role, version: str) -> dict[str, str]:
    """metadata.labels of a serving Deployment and its PodMonitor."""
    return standard_labels(ms.metadata.name, role_component(role), version) | owner_labels(ms)


def serving_selector_labels(ms: ModelService, role: Role) -> dict[str, str]:
    """Serving Deployment selector, also the PodMonitor selector of that role."""
    return selector_labels(ms.metadata.name, role_component(role)) | {
        INFERENCE_SERVING: TRUE,
        MODEL: ms.metadata.name,
        ROLE: role,
    }


def serving_pod_labels(ms: ModelService, role: Role) -> dict[str, str]:
    """Serving pod template labels: the selector labels, never the version."""
    return serving_selector_labels(ms, role)


def epp_meta_labels(ms: ModelService, version: str, *, cluster_scoped: bool = False) -> dict[str, str]:
    """metadata.labels of every EPP object."""
    return standard_labels(names.epp_name(ms), COMPONENT_EPP, version) | owner_labels(
        ms, cluster_scoped=cluster_scoped
    )


def epp_selector_labels(ms: ModelService) -> dict[str, str]:
    """EPP Service selector and ServiceMonitor selector: SEL(EPP, epp)."""
    return selector_labels(names.epp_name(ms), COMPONENT_EPP)


def epp_pod_labels(ms: ModelService) -> dict[str, str]:
    """EPP Deployment selector and pod template labels (no version)."""
    return epp_selector_labels(ms) | {INFERENCE_POOL: names.epp_name(ms)}


def pool_meta_labels(ms: ModelService, version: str) -> dict[str, str]:
    """metadata.labels of the InferencePool and the HTTPRoute: STD(NAME, epp)."""
    return standard_labels(ms.metadata.name, COMPONENT_EPP, version) | owner_labels(ms)


def pool_selector_labels(ms: ModelService) -> dict[str, str]:
    """InferencePool pod selector: no component key, so it selects decode and prefill pods."""
    return {
        NAME: ms.metadata.name,
        PART_OF: PART_OF_VALUE,
        MANAGED_BY: MANAGED_BY_VALUE,
        INFERENCE_SERVING: TRUE,
        MODEL: ms.metadata.name,
    }
