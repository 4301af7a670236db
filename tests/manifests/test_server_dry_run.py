"""Every install flavour as the real API server judges it: `kubectl apply --dry-run=server`.

Server-side dry run runs the whole write path (defaulting, validation against the built-in schemas
and the installed CRDs, admission) and stores nothing, not even the Namespace the other objects
go in; so that Namespace exists beforehand, as it would on a second run or after `kubectl create
namespace`, or the namespaced objects would be NotFound. The self-signed flavour goes exactly as
documented (`-k`, after the certificates step). The cert-manager flavours name cert-manager kinds,
which this control plane does not serve, so their rendered objects are sent without those.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from testbed import ControlPlane

CERT_MANAGER_GROUP = "cert-manager.io/"
OPERATOR_NAMESPACE = "modelservice-system"


@pytest.fixture
def operator_namespace(installed_crds: ControlPlane) -> ControlPlane:
    if installed_crds.kubectl("get", "namespace", OPERATOR_NAMESPACE, check=False).returncode != 0:
        installed_crds.kubectl("create", "namespace", OPERATOR_NAMESPACE)
    return installed_crds


def _dry_run_lines(cp: ControlPlane, *args: str, stdin: str | None = None) -> list[str]:
    result = cp.kubectl("apply", "--dry-run=server", *args, stdin=stdin, check=False)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines and all(line.endswith("(server dry run)") for line in lines), result.stdout
    return lines


def test_the_self_signed_install_passes_a_server_dry_run(
    operator_namespace: ControlPlane, installed_tree: Path
) -> None:
    lines = _dry_run_lines(operator_namespace, "-k", str(installed_tree / "overlays" / "self-signed"))
    assert "secret/webhook-tls created (server dry run)" in lines
    assert any(line.startswith("deployment.apps/modelservice-webhook ") for line in lines), lines
    # Nothing was stored.
    webhook_tls = operator_namespace.kubectl(
        "get", "secret/webhook-tls", "-n", OPERATOR_NAMESPACE, check=False
    )
    assert webhook_tls.returncode != 0


@pytest.mark.parametrize("flavour", ["cert-manager", "monitoring"])
def test_the_cert_manager_installs_pass_a_server_dry_run(
    operator_namespace: ControlPlane, installed_tree: Path, flavour: str
) -> None:
    rendered = operator_namespace.kubectl("kustomize", str(installed_tree / "overlays" / flavour)).stdout
    docs = [
        d for d in yaml.safe_load_all(rendered) if d and not d["apiVersion"].startswith(CERT_MANAGER_GROUP)
    ]
    lines = _dry_run_lines(operator_namespace, "-f", "-", stdin=yaml.safe_dump_all(docs, sort_keys=False))
    assert len(lines) == len(docs)
    if flavour == "monitoring":
        assert any(line.startswith("servicemonitor.monitoring.coreos.com/") for line in lines), lines


def test_the_server_dry_run_rejects_what_a_broken_manifest_gets_wrong(
    operator_namespace: ControlPlane, installed_tree: Path
) -> None:
    rendered = operator_namespace.kubectl(
        "kustomize", str(installed_tree / "overlays" / "self-signed")
    ).stdout
    deployment = next(d for d in yaml.safe_load_all(rendered) if d and d["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"containerPort": 70000}]
    result = operator_namespace.kubectl(
        "apply", "--dry-run=server", "-f", "-", stdin=yaml.safe_dump(deployment), check=False
    )
    assert result.returncode != 0
    assert "containerPort" in result.stderr
