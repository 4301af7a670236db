"""Kubernetes Events (``events.k8s.io/v1``) about the objects a controller reconciles, de-duplicated.

The same reason and note for the same object within ``window`` seconds is one Event whose
``series.count`` grows (patched at most every ``min_patch_interval``; the count catches up with the
next patch), as client-go's event recorder aggregates. Events are best effort: a failure to
record one is logged and never fails a reconcile.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from reconciler.runtime.client import Manifest, Resource
from reconciler.runtime.clock import Clock, format_micro_time
from reconciler.runtime.errors import ApiError, NotFound

log = logging.getLogger(__name__)

EVENTS = Resource("events.k8s.io", "v1", "Event", "events", namespaced=True)
MAX_NOTE = 1024
EventType = Literal["Normal", "Warning"]


class EventClient(Protocol):
    async def create(self, resource: Resource, obj: Manifest) -> Manifest: ...

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


@dataclass
class _Series:
    name: str
    namespace: str
    count: int
    patched_count: int
    first: float
    last_patch: float


class EventRecorder:
    """Records Events regarding an object; repeats within the window bump one Event's series."""

    def __init__(
        self,
        client: EventClient,
        clock: Clock,
        instance: str,
        *,
        controller: str,
        window: float = 600.0,
        min_patch_interval: float = 30.0,
    ) -> None:
        self._client = client
        self._clock = clock
        self._instance = instance
        self._controller = controller
        self._window = window
        self._min_patch_interval = min_patch_interval
        self._series: dict[tuple[str, str, str], _Series] = {}
        self._sequence = 0
        self.sent = 0
        """Event writes made (creates and patches), for tests and benchmarks."""

    async def record(
        self, regarding: Mapping[str, Any], kind: EventType, reason: str, note: str, action: str = "Reconcile"
    ) -> None:
        note = note if len(note) <= MAX_NOTE else note[: MAX_NOTE - 3] + "..."
        meta = regarding["metadata"]
        key = (str(meta.get("uid") or meta["name"]), reason, note)
        now = self._clock.monotonic()
        self._expire(now)
        series = self._series.get(key)
        if series is not None and now - series.first >= self._window:
            series = None
        try:
            if series is None:
                await self._create(key, regarding, kind, reason, note, action, now)
            else:
                await self._repeat(series, now)
        except NotFound:
            self._series.pop(key, None)  # the Event expired on the server; the next one starts afresh
        except ApiError as e:
            log.warning("could not record event", extra={"reason": reason, "error": str(e)})

    async def _create(
        self,
        key: tuple[str, str, str],
        regarding: Mapping[str, Any],
        kind: EventType,
        reason: str,
        note: str,
        action: str,
        now: float,
    ) -> None:
        meta = regarding["metadata"]
        moment = self._clock.now()
        self._sequence += 1
        name = f"{meta['name']}.{int(moment.timestamp() * 1e9):x}{self._sequence:x}"
        event = {
            "apiVersion": EVENTS.api_version,
            "kind": "Event",
            "metadata": {"name": name, "namespace": meta["namespace"]},
            "eventTime": format_micro_time(moment),
            "reportingController": self._controller,
            "reportingInstance": self._instance,
            "action": action,
            "reason": reason,
            "type": kind,
            "note": note,
            "regarding": _reference(regarding),
        }
        self.sent += 1
        await self._client.create(EVENTS, event)
        self._series[key] = _Series(name, meta["namespace"], 1, 1, now, now)

    async def _repeat(self, series: _Series, now: float) -> None:
        series.count += 1
        if now - series.last_patch < self._min_patch_interval:
            return
        patch = {"series": {"count": series.count, "lastObservedTime": format_micro_time(self._clock.now())}}
        series.last_patch = now
        self.sent += 1
        await self._client.patch(EVENTS, series.name, patch, series.namespace)
        series.patched_count = series.count

    def _expire(self, now: float) -> None:
        if len(self._series) < 1024 and self._sequence % 64:
            return
        for key in [k for k, s in self._series.items() if now - s.first >= self._window]:
            del self._series[key]

    def pending(self, regarding: Mapping[str, Any], reason: str, note: str) -> int:
        """How many repeats of this event are counted but not yet patched onto the server."""
        series = self._series.get((str(regarding["metadata"].get("uid")), reason, note))
        return 0 if series is None else series.count - series.patched_count


def _reference(obj: Mapping[str, Any]) -> Manifest:
    meta = obj["metadata"]
    ref = {
        "apiVersion": obj.get("apiVersion", ""),
        "kind": obj.get("kind", ""),
        "name": meta["name"],
        "namespace": meta.get("namespace", ""),
    }
    if meta.get("uid"):
        ref["uid"] = meta["uid"]
    if meta.get("resourceVersion"):
        ref["resourceVersion"] = meta["resourceVersion"]
    return ref
