"""Writing a kubeconfig that points kubectl and client libraries at a local cluster (plain HTTP)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def kubeconfig(url: str, context: str = "localcluster", namespace: str = "default") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": {"server": url}}],
        "users": [{"name": context, "user": {}}],
        "contexts": [
            {"name": context, "context": {"cluster": context, "user": context, "namespace": namespace}}
        ],
        "current-context": context,
        "preferences": {},
    }


def write(path: str | Path, url: str, context: str = "localcluster", namespace: str = "default") -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(kubeconfig(url, context, namespace), sort_keys=False))
    return target
