"""The EPP Role and RoleBinding: what the EPP reads in its own namespace.

It watches the serving pods and its InferencePool (plus the experimental objective and rewrite
objects). With more than one replica it also needs Leases for leader election and Events to report
it. The operator must itself hold every permission it grants here (RBAC escalation prevention).

The llm-d router's EPP also reads the objective and rewrite objects under their new group
``llm-d.ai``, and prefers it when both are installed (llm-d/llm-d-router
pkg/epp/server/controller_config.go); its chart grants both groups
(config/charts/llm-d-router-standalone/templates/rbac.yaml).
"""

from __future__ import annotations

from shared import labels, names
from shared.api import ModelService
from shared.builders import defaults, meta
from shared.builders.meta import Manifest
from shared.settings import EppGeneration, OperatorSettings

RBAC_API_VERSION = "rbac.authorization.k8s.io/v1"
RBAC_GROUP = "rbac.authorization.k8s.io"
_READ = ["get", "watch", "list"]


def _rule(group: str, resources: list[str], verbs: list[str]) -> Manifest:
    return {"apiGroups": [group], "resources": resources, "verbs": verbs}


_OBJECTIVES = ["inferenceobjectives", "inferencemodelrewrites"]


def epp_role_rules(replicas: int, generation: EppGeneration) -> list[Manifest]:
    """The Role's rules in the reference's order; leader-election rules only above one replica.

    The llm-d router generation adds the ``llm-d.ai`` objective and rewrite rule after the legacy one.
    """
    rules = [
        _rule("", ["pods"], list(_READ)),
        _rule("inference.networking.x-k8s.io", list(_OBJECTIVES), list(_READ)),
    ]
    if generation == "llm-d-router":
        rules.append(_rule("llm-d.ai", list(_OBJECTIVES), list(_READ)))
    rules.append(_rule("inference.networking.k8s.io", ["inferencepools"], list(_READ)))
    if replicas > 1:
        rules += [
            _rule(
                "coordination.k8s.io",
                ["leases"],
                ["get", "list", "watch", "create", "update", "patch", "delete"],
            ),
            _rule("", ["events"], ["create", "patch"]),
        ]
    return rules


def service_account_subject(ms: ModelService) -> Manifest:
    """The EPP ServiceAccount as an RBAC subject."""
    return {"kind": "ServiceAccount", "name": names.epp_name(ms), "namespace": ms.metadata.namespace}


def build_epp_role(ms: ModelService, settings: OperatorSettings) -> Manifest | None:
    """The EPP Role; always wanted."""
    metadata = meta.object_meta(ms, names.epp_name(ms), labels.epp_meta_labels(ms, settings.version))
    return meta.manifest(
        RBAC_API_VERSION,
        "Role",
        metadata,
        rules=epp_role_rules(defaults.epp_replicas(ms), settings.epp_generation),
    )


def build_epp_role_binding(ms: ModelService, settings: OperatorSettings) -> Manifest | None:
    """The EPP RoleBinding; always wanted."""
    name = names.epp_name(ms)
    metadata = meta.object_meta(ms, name, labels.epp_meta_labels(ms, settings.version))
    return meta.manifest(
        RBAC_API_VERSION,
        "RoleBinding",
        metadata,
        subjects=[service_account_subject(ms)],
        roleRef={"apiGroup": RBAC_GROUP, "kind": "Role", "name": name},
    )
