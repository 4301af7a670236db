"""Rendered install flavours, built once per session from a copy of manifests/.

The copy lets the self-signed flow run exactly as documented (create the certificates, inject the
CA bundle) without touching the working tree, and holds throwaway overlays that enable the opt-in
components (monitoring, control-plane-only ingress).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from certs import cli as certs_cli
from tests.manifests import layout
from tests.manifests.layout import Manifest

MONITORING_OVERLAY = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../cert-manager
components:
  - ../../monitoring
"""


CONTROL_PLANE_INGRESS_OVERLAY = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../cert-manager
components:
  - ../../control-plane-ingress
"""


def run_self_signed_flow(tree: Path) -> None:
    """The two documented steps of the self-signed install, against `tree`."""
    certs_dir = tree / layout.CERTS_DIR
    create = ["create", "--dir", str(certs_dir), "--service", layout.WEBHOOK_SERVICE]
    create += ["--namespace", layout.NAMESPACE, "--secret-name", layout.TLS_SECRET]
    assert certs_cli.main(create) == 0
    inject = ["inject-ca", "--ca", str(certs_dir / "ca.crt"), str(tree / layout.CA_BUNDLE_PATCH)]
    assert certs_cli.main(inject) == 0


@pytest.fixture(scope="session")
def installed_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of manifests/ after the self-signed flow, plus overlays enabling the opt-in components."""
    tree = layout.copy_tree(tmp_path_factory.mktemp("install"))
    run_self_signed_flow(tree)
    (tree / "overlays" / "monitoring").mkdir()
    (tree / "overlays" / "monitoring" / layout.KUSTOMIZATION).write_text(MONITORING_OVERLAY)
    (tree / "overlays" / "control-plane-ingress").mkdir()
    (tree / "overlays" / "control-plane-ingress" / layout.KUSTOMIZATION).write_text(
        CONTROL_PLANE_INGRESS_OVERLAY
    )
    return tree


@pytest.fixture(scope="session")
def flavours(installed_tree: Path) -> dict[str, list[Manifest]]:
    """Rendered objects of every way to install: the default, the base and each overlay."""
    dirs = {
        "default": installed_tree,
        "base": installed_tree / "base",
        "self-signed": installed_tree / "overlays" / "self-signed",
        "cert-manager": installed_tree / "overlays" / "cert-manager",
        "monitoring": installed_tree / "overlays" / "monitoring",
        "control-plane-ingress": installed_tree / "overlays" / "control-plane-ingress",
    }
    return {name: layout.render(path) for name, path in dirs.items()}


@pytest.fixture(scope="session")
def default_install(flavours: dict[str, list[Manifest]]) -> list[Manifest]:
    """What `kubectl apply -k manifests/` sends."""
    return flavours["default"]
