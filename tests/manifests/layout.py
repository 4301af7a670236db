"""The install manifests as data: where they live, how kustomize renders them, what they hold.

Tests read the YAML files and the output of `kubectl kustomize` through these helpers, so every
test checks what a user would apply. Rendering needs kubectl (it embeds kustomize); its absence is
a test failure with the command that installs it, never a skip.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from testbed.binaries import ensure_binaries

Manifest = dict[str, Any]

REPO_ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = REPO_ROOT / "manifests"
NAMESPACE = "modelservice-system"
KUSTOMIZATION = "kustomization.yaml"

# The self-signed overlay's Secret is written by `python -m certs create`, never committed.
GENERATED = frozenset({Path("overlays/self-signed/certs/secret.yaml")})
CERTS_DIR = Path("overlays/self-signed/certs")
CA_BUNDLE_PATCH = Path("overlays/self-signed/webhook-ca-bundle.yaml")

CLUSTER_SCOPED_KINDS = frozenset(
    {
        "Namespace",
        "CustomResourceDefinition",
        "ClusterRole",
        "ClusterRoleBinding",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
    }
)

WEBHOOK_SERVICE = "modelservice-webhook"
WEBHOOK_DEPLOYMENT = "modelservice-webhook"
RECONCILER_DEPLOYMENT = "modelservice-reconciler"
RECONCILER_CLUSTER_ROLE = "modelservice-reconciler"
LEADER_ELECTION_ROLE = "modelservice-reconciler-leader-election"
TLS_SECRET = "webhook-tls"


def load_docs(path: Path) -> list[Manifest]:
    """Every non-empty YAML document of a file."""
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    for doc in docs:
        assert isinstance(doc, dict), f"{path}: a document is not a mapping"
    return docs


def kustomization_dirs(root: Path = MANIFESTS) -> list[Path]:
    """Every directory under `root` holding a kustomization, relative to `root`, sorted."""
    return sorted(p.parent.relative_to(root) for p in root.rglob(KUSTOMIZATION))


def kustomization(directory: Path) -> Manifest:
    (doc,) = load_docs(directory / KUSTOMIZATION)
    return doc


def references(directory: Path) -> Iterator[tuple[str, Path]]:
    """(field, path) for every resource, component and patch file a kustomization names."""
    doc = kustomization(directory)
    for entry in doc.get("resources") or []:
        yield "resources", directory / entry
    for entry in doc.get("components") or []:
        yield "components", directory / entry
    for patch in doc.get("patches") or []:
        if "path" in patch:
            yield "patches", directory / patch["path"]


def resource_files(root: Path = MANIFESTS) -> list[Path]:
    """YAML files listed as `resources` (complete objects, not patches), relative to `root`."""
    files = {
        target.resolve().relative_to(root.resolve())
        for d in kustomization_dirs(root)
        for field, target in references(root / d)
        if field == "resources" and target.suffix in (".yaml", ".yml")
    }
    return sorted(files)


def kubectl() -> str:
    """The kubectl built with the test control plane (`make testbed` builds it)."""
    return str(ensure_binaries(progress=lambda line: print(line, file=sys.__stderr__, flush=True)).kubectl)


def render(directory: Path) -> list[Manifest]:
    """The objects `kubectl apply -k directory` would send, in kustomize's order."""
    result = subprocess.run(
        [kubectl(), "kustomize", str(directory)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, f"kubectl kustomize {directory} failed:\n{result.stderr}"
    return [d for d in yaml.safe_load_all(result.stdout) if d is not None]


def find(objects: list[Manifest], kind: str, name: str) -> Manifest:
    """The one object of `kind` named `name`; fails listing what exists otherwise."""
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    present = sorted(f"{o['kind']}/{o['metadata']['name']}" for o in objects)
    assert len(matches) == 1, f"expected exactly one {kind}/{name}, found {len(matches)} in {present}"
    return matches[0]


def of_kind(objects: list[Manifest], kind: str) -> list[Manifest]:
    return [o for o in objects if o["kind"] == kind]


def pod_spec(deployment: Manifest) -> Manifest:
    spec: Manifest = deployment["spec"]["template"]["spec"]
    return spec


def container(deployment: Manifest) -> Manifest:
    (only,) = pod_spec(deployment)["containers"]
    assert isinstance(only, dict)
    return only


def copy_tree(destination: Path) -> Path:
    """A copy of manifests/ without generated certificates, so tests can run the certs flow."""
    target = destination / "manifests"
    shutil.copytree(MANIFESTS, target, ignore=shutil.ignore_patterns("certs"))
    return target
