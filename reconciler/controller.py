"""The ModelService controller's state: what every reconcile shares (``Deps``) and what one
reconcile of one ModelService did and saw (``ReconcileState``).

Kept apart from ``reconcile`` and ``apply`` so both can use them without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reconciler.runtime.cache import GVK, Cache
from reconciler.runtime.client import KubeClient, Manifest
from reconciler.runtime.clock import Clock
from reconciler.runtime.discovery import RestMapper
from reconciler.runtime.events import EventRecorder
from reconciler.runtime.informer import ObjKey
from shared.settings import OperatorSettings

Fingerprint = tuple[str, int, int]
"""What a reconcile read: the ModelService's resourceVersion, the cache's fingerprint of its
children and their pods, and the generation of the served kinds."""


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
    no_op_fingerprints: dict[str, Fingerprint] = field(default_factory=dict)
    """Per key, the fingerprint of what the last reconcile read, kept only if that reconcile was a
    no-op: while the fingerprint still matches, another reconcile would find the same, so none runs."""


@dataclass
class ReconcileState:
    """One reconcile of one ModelService: its identity, what it wrote, and what it saw."""

    name: str
    namespace: str
    uid: str
    live: dict[tuple[GVK, ObjKey], Manifest] = field(default_factory=dict)
    """Every desired child this ModelService controls, as it is after this reconcile."""
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
    def was_no_op(self) -> bool:
        """Nothing was written, nothing failed, nothing is in the way: a reconcile worth remembering."""
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
