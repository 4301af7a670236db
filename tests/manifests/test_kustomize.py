"""The kustomize layout: every reference resolves, every file is used, every flavour renders into
the operator's namespace with exactly the objects it promises."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared import labels
from tests.manifests import layout
from tests.manifests.layout import MANIFESTS, Manifest

KUSTOMIZATION_DIRS = layout.kustomization_dirs()

NAMESPACED_KINDS = frozenset(
    {
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "Secret",
        "Service",
        "Deployment",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "ServiceMonitor",
        "Issuer",
        "Certificate",
    }
)

BASE = {
    ("Namespace", "modelservice-system"),
    ("CustomResourceDefinition", "modelservices.model.otterscale.io"),
    ("ServiceAccount", "modelservice-webhook"),
    ("ServiceAccount", "modelservice-reconciler"),
    ("ClusterRole", "modelservice-reconciler"),
    ("ClusterRoleBinding", "modelservice-reconciler"),
    ("ClusterRole", "modelservice-editor"),
    ("ClusterRole", "modelservice-viewer"),
    ("Role", "modelservice-reconciler-leader-election"),
    ("RoleBinding", "modelservice-reconciler-leader-election"),
    ("Deployment", "modelservice-webhook"),
    ("PodDisruptionBudget", "modelservice-webhook"),
    ("Service", "modelservice-webhook"),
    ("Service", "modelservice-webhook-metrics"),
    ("NetworkPolicy", "modelservice-webhook"),
    ("MutatingWebhookConfiguration", "modelservice-mutating"),
    ("ValidatingWebhookConfiguration", "modelservice-validating"),
    ("Deployment", "modelservice-reconciler"),
    ("Service", "modelservice-reconciler-metrics"),
    ("NetworkPolicy", "modelservice-reconciler"),
}
CERT_MANAGER = {
    ("Issuer", "modelservice-webhook-selfsigned"),
    ("Certificate", "modelservice-webhook-serving-cert"),
}
SELF_SIGNED = {("Secret", "webhook-tls")}
MONITORING = {("ServiceMonitor", "modelservice-webhook"), ("ServiceMonitor", "modelservice-reconciler")}

EXPECTED_OBJECTS = {
    "base": BASE,
    "default": BASE | CERT_MANAGER,
    "cert-manager": BASE | CERT_MANAGER,
    "self-signed": BASE | SELF_SIGNED,
    "monitoring": BASE | CERT_MANAGER | MONITORING,
    "control-plane-ingress": BASE | CERT_MANAGER,
}


def identities(objects: list[Manifest]) -> set[tuple[str, str]]:
    return {(o["kind"], o["metadata"]["name"]) for o in objects}


@pytest.mark.parametrize("directory", KUSTOMIZATION_DIRS, ids=[str(d) for d in KUSTOMIZATION_DIRS])
def test_every_kustomization_reference_exists(directory: Path) -> None:
    missing = []
    for field, target in layout.references(MANIFESTS / directory):
        relative = target.resolve().relative_to(MANIFESTS.resolve())
        if relative in layout.GENERATED:
            continue
        ok = (target / layout.KUSTOMIZATION).is_file() if target.is_dir() else target.is_file()
        if not ok:
            missing.append(f"{field}: {relative}")
    assert not missing, f"{directory}/kustomization.yaml names what does not exist: {missing}"


def test_generated_certificates_are_ignored_by_git() -> None:
    ignore = (MANIFESTS / layout.CERTS_DIR.parent / ".gitignore").read_text().split()
    assert f"{layout.CERTS_DIR.name}/" in ignore
    assert all(path.parent == layout.CERTS_DIR for path in layout.GENERATED)


def test_every_yaml_file_belongs_to_a_kustomization() -> None:
    named = {
        target.resolve().relative_to(MANIFESTS.resolve())
        for d in KUSTOMIZATION_DIRS
        for _, target in layout.references(MANIFESTS / d)
    }
    files = {
        p.relative_to(MANIFESTS)
        for p in MANIFESTS.rglob("*.yaml")
        if p.name != layout.KUSTOMIZATION and layout.CERTS_DIR not in p.relative_to(MANIFESTS).parents
    }
    assert files - named == set(), "YAML files no kustomization uses"


@pytest.mark.parametrize("flavour", sorted(EXPECTED_OBJECTS), ids=sorted(EXPECTED_OBJECTS))
def test_flavour_renders_exactly_its_objects(flavour: str, flavours: dict[str, list[Manifest]]) -> None:
    objects = flavours[flavour]
    assert identities(objects) == EXPECTED_OBJECTS[flavour]
    assert len(objects) == len(EXPECTED_OBJECTS[flavour]), "an object is rendered twice"


@pytest.mark.parametrize("flavour", sorted(EXPECTED_OBJECTS), ids=sorted(EXPECTED_OBJECTS))
def test_flavour_puts_every_namespaced_object_into_the_operator_namespace(
    flavour: str, flavours: dict[str, list[Manifest]]
) -> None:
    misplaced = []
    for obj in flavours[flavour]:
        kind, namespace = obj["kind"], obj["metadata"].get("namespace")
        assert kind in NAMESPACED_KINDS | layout.CLUSTER_SCOPED_KINDS, f"unclassified kind {kind}"
        expected = None if kind in layout.CLUSTER_SCOPED_KINDS else layout.NAMESPACE
        if namespace != expected:
            misplaced.append(f"{kind}/{obj['metadata']['name']} in {namespace!r}")
    assert not misplaced


@pytest.mark.parametrize("flavour", sorted(EXPECTED_OBJECTS), ids=sorted(EXPECTED_OBJECTS))
def test_flavour_labels_every_object_as_part_of_the_operator(
    flavour: str, flavours: dict[str, list[Manifest]]
) -> None:
    # Overlay-only objects (the TLS Secret) may lack it; everything from the base must carry it.
    unlabelled = [
        f"{o['kind']}/{o['metadata']['name']}"
        for o in flavours[flavour]
        if (o["kind"], o["metadata"]["name"]) in BASE
        and (o["metadata"].get("labels") or {}).get("app.kubernetes.io/part-of") != "modelservice-operator"
    ]
    assert not unlabelled


def test_operator_objects_never_carry_the_label_the_reconciler_adopts_children_by(
    default_install: list[Manifest],
) -> None:
    # The reconciler caches every object labelled managed-by=model-operator as a child.
    adopted = [
        f"{o['kind']}/{o['metadata']['name']}"
        for o in default_install
        if (o["metadata"].get("labels") or {}).get(labels.MANAGED_BY) == labels.MANAGED_BY_VALUE
    ]
    assert not adopted


def test_the_control_plane_ingress_component_admits_only_its_cidrs_to_the_webhook_port(
    flavours: dict[str, list[Manifest]],
) -> None:
    def webhook_policy(flavour: str) -> Manifest:
        (policy,) = [
            o
            for o in flavours[flavour]
            if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "modelservice-webhook"
        ]
        return policy

    default, restricted = webhook_policy("default"), webhook_policy("control-plane-ingress")
    assert default["spec"]["ingress"][0] == {"ports": [{"port": 9443, "protocol": "TCP"}]}
    assert restricted["spec"]["ingress"][0] == {
        "from": [{"ipBlock": {"cidr": "192.0.2.0/24"}}],
        "ports": [{"port": 9443, "protocol": "TCP"}],
    }
    assert restricted["spec"]["ingress"][1:] == default["spec"]["ingress"][1:]  # metrics unchanged
    assert restricted["spec"]["egress"] == []
