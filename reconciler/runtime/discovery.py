"""Resource discovery: the REST mapping from (apiVersion, kind) to plural and scope.

Asks the API server's discovery documents (``/api/v1``, ``/apis/<group>/<version>``) only for the
group-versions the controller uses, so start-up costs a handful of small requests. A group-version
the server does not serve (a third-party CRD that is not installed) is remembered as missing, and
``refresh`` can be called again later to notice it being installed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from reconciler.runtime.client import Manifest, Resource
from reconciler.runtime.errors import NotFound


class DiscoveryClient(Protocol):
    async def get_path(self, path: str) -> Manifest: ...


class NoKindMatch(LookupError):
    """The API server does not serve this kind (its CRD is not installed)."""


def split_api_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


def discovery_path(api_version: str) -> str:
    group, version = split_api_version(api_version)
    return f"/apis/{group}/{version}" if group else f"/api/{version}"


class RestMapper:
    """REST mappings of the kinds the controller uses, refreshed on demand."""

    def __init__(self, client: DiscoveryClient) -> None:
        self._client = client
        self._resources: dict[tuple[str, str], Resource] = {}
        self._missing: set[str] = set()
        self.generation = 0
        """Bumped whenever the set of served kinds changes."""

    async def refresh(self, api_versions: Iterable[str]) -> None:
        """(Re)read the discovery documents of ``api_versions``; unserved ones are marked missing."""
        before = dict(self._resources)
        for api_version in sorted(set(api_versions)):
            try:
                document = await self._client.get_path(discovery_path(api_version))
            except NotFound:
                self._missing.add(api_version)
                self._forget(api_version)
                continue
            self._missing.discard(api_version)
            self._forget(api_version)
            self._record(api_version, document)
        if self._resources != before:
            self.generation += 1

    def _forget(self, api_version: str) -> None:
        for key in [k for k in self._resources if k[0] == api_version]:
            del self._resources[key]

    def _record(self, api_version: str, document: Manifest) -> None:
        group, version = split_api_version(api_version)
        for entry in document.get("resources") or []:
            plural = str(entry.get("name", ""))
            if not plural or "/" in plural:
                continue  # subresources such as deployments/status
            kind = str(entry.get("kind", ""))
            self._resources[(api_version, kind)] = Resource(
                group=group,
                version=version,
                kind=kind,
                plural=plural,
                namespaced=bool(entry.get("namespaced")),
            )

    def find(self, api_version: str, kind: str) -> Resource | None:
        return self._resources.get((api_version, kind))

    def resource(self, api_version: str, kind: str) -> Resource:
        found = self._resources.get((api_version, kind))
        if found is None:
            raise NoKindMatch(f'no matches for kind "{kind}" in version "{api_version}"')
        return found

    def served(self, api_version: str, kind: str) -> bool:
        return (api_version, kind) in self._resources
