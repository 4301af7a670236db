"""What a reconcile works with (``Deps``) and what one pass did and saw (``Pass``).

Kept apart from ``reconcile`` and ``apply`` so both can use them without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from reconciler.runtime.cache import GVK, Cache
from reconciler.runtime.client import Manifest, Resource
from reconciler.runtime.clock import Clock
from reconciler.runtime.discovery import RestMapper
from reconciler.runtime.events import EventRecorder
from reconciler.runtime.informer import ObjKey
from shared.settings import OperatorSettings


class KubeClient(Protocol):
    """The writes (and the rare direct read) a reconcile makes; ``runtime.client.Client`` is one."""

    async def get(self, resource: Resource, name: str, namespace: str | None = None) -> Manifest: ...

    async def create(self, resource: Resource, obj: Manifest) -> Manifest: ...

    async def replace(self, resource: Resource, obj: Manifest) -> Manifest: ...

    async def apply(
        self, resource: Resource, obj: Manifest, *, field_manager: str, force: bool = True
    ) -> Manifest: ...

    async def patch(
        self,
        resource: Resource,
        name: str,
        patch: Any,
        namespace: str | None = None,
        *,
        subresource: str | None = None,
        patch_type: str = ...,
    ) -> Manifest: ...

    async def delete(
        self, resource: Resource, name: str, namespace: str | None = None, *, uid: str | None = None
    ) -> Manifest: ...

    async def patch_status(
        self, resource: Resource, name: str, namespace: str | None, status: Any
    ) -> Manifest: ...


class ConflictMemo:
    """Foreign objects found by a failed create (they lack our labels, so no informer sees them).

    Remembered for ``ttl`` seconds so each reconcile does not repeat the failing create; after that
    the create is tried again, which notices the foreign object being removed.
    """

    def __init__(self, clock: Clock, ttl: float) -> None:
        self._clock = clock
        self._ttl = ttl
        self._found: dict[tuple[GVK, ObjKey], tuple[str, float]] = {}

    def remember(self, gvk: GVK, key: ObjKey, message: str) -> None:
        self._found[(gvk, key)] = (message, self._clock.monotonic() + self._ttl)

    def get(self, gvk: GVK, key: ObjKey) -> str | None:
        found = self._found.get((gvk, key))
        if found is None:
            return None
        if found[1] <= self._clock.monotonic():
            del self._found[(gvk, key)]
            return None
        return found[0]


@dataclass
class Deps:
    """Everything a reconcile needs; built once by the manager."""

    client: KubeClient
    cache: Cache
    mapper: RestMapper
    settings: OperatorSettings
    events: EventRecorder
    clock: Clock
    conflicts: ConflictMemo
    quiet: dict[str, tuple[str, int, int]] = field(default_factory=dict)
    """Per key, the fingerprint of what the last pass read, if that pass wrote nothing."""


@dataclass
class Pass:
    """One reconcile of one ModelService: its identity, what it wrote, and what it saw."""

    name: str
    namespace: str
    uid: str
    live: dict[tuple[GVK, ObjKey], Manifest] = field(default_factory=dict)
    """Every desired child this ModelService controls, as it is after this pass."""
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    missing_kinds: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    requeue: bool = False
    retry_after: float | None = None
    wrote: bool = False
    """The ModelService itself was written (status or finalizers)."""

    @property
    def quiet(self) -> bool:
        """Nothing was written, nothing failed, nothing is in the way: a pass worth remembering."""
        changed = self.created or self.updated or self.deleted or self.wrote
        return not (changed or self.conflicts or self.errors or self.requeue)

    @property
    def owner_key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def seen(self, gvk: GVK, obj: Manifest) -> None:
        meta = obj["metadata"]
        self.live[(gvk, (meta.get("namespace") or "", meta["name"]))] = obj

    def find(self, api_version: str, kind: str, name: str, namespaced: bool = True) -> Manifest | None:
        return self.live.get(((api_version, kind), (self.namespace if namespaced else "", name)))


class ChildError(Exception):
    """Writing one child failed; ``retryable`` errors end the pass early (the next would fail too)."""

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
