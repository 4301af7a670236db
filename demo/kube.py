"""A small typed view over the official client's dynamic API: objects in, plain dicts out.

The demo and the end-to-end tests read the cluster through here, so they see objects as the
reconciler and `kubectl` do. The dynamic client's discovery cache goes to a file in the caller's
folder (its default is a shared file in the system temp directory).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes.config
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import NotFoundError

Manifest = dict[str, Any]


class Kube:
    """Get, list, create, patch and delete any kind by apiVersion and kind."""

    def __init__(self, kubeconfig: Path, cache_dir: Path) -> None:
        self.api = kubernetes.config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
        cache_dir.mkdir(parents=True, exist_ok=True)
        self.dynamic = DynamicClient(self.api, cache_file=str(cache_dir / "discovery.json"))  # type: ignore[no-untyped-call]

    def close(self) -> None:
        self.api.close()

    def __enter__(self) -> Kube:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _resource(self, api_version: str, kind: str) -> Any:
        return self.dynamic.resources.get(api_version=api_version, kind=kind)

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Manifest | None:
        try:
            found = self._resource(api_version, kind).get(name=name, namespace=namespace)
        except NotFoundError:
            return None
        return _plain(found)

    def list(
        self, api_version: str, kind: str, namespace: str | None = None, label_selector: str | None = None
    ) -> list[Manifest]:
        found = self._resource(api_version, kind).get(namespace=namespace, label_selector=label_selector)
        return [_plain(item) for item in found.items]

    def create(self, obj: Manifest) -> Manifest:
        namespace = obj.get("metadata", {}).get("namespace")
        return _plain(self._resource(obj["apiVersion"], obj["kind"]).create(body=obj, namespace=namespace))

    def merge_patch(
        self, api_version: str, kind: str, name: str, patch: Manifest, namespace: str | None = None
    ) -> Manifest:
        resource = self._resource(api_version, kind)
        updated = resource.patch(
            name=name, namespace=namespace, body=patch, content_type="application/merge-patch+json"
        )
        return _plain(updated)

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> bool:
        """Delete; False if it was already gone."""
        try:
            self._resource(api_version, kind).delete(name=name, namespace=namespace)
        except NotFoundError:
            return False
        return True


def _plain(instance: Any) -> Manifest:
    data: Manifest = instance.to_dict()
    return data
