"""What the demo shows: the status table, the tree of children, and how children are found.

Children are found the way an operator's user would look for them: by the ownership labels the
builders put on every child (`model.otterscale.io/modelservice`, plus the owner's namespace on
cluster-scoped ones), across every kind the builders can produce.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from demo.kube import Kube, Manifest
from demo.terminal import Console, pad
from shared import labels
from shared.builders import BUILDERS
from shared.builders.meta import CLUSTER_SCOPED_KINDS

GROUPS = ("serving", "EPP", "routing", "monitoring", "cluster-scoped")
ROUTING_KINDS = frozenset({"InferencePool", "HTTPRoute", "DestinationRule"})
MONITORING_KINDS = frozenset({"PodMonitor", "ServiceMonitor"})
SERVING_COMPONENTS = frozenset({labels.COMPONENT_DECODE, labels.COMPONENT_PREFILL})
NO_STATUS = "no status"
"""Shown until the reconciler writes the first status (the API server stores none)."""
PHASE_STYLES = {"Ready": "green", "Running": "yellow", "Pending": "blue", "Failed": "red"}
Cell = tuple[str, tuple[str, ...]]

OWNED_KINDS: tuple[tuple[str, str], ...] = tuple(dict.fromkeys((c.api_version, c.kind) for c in BUILDERS))


def children_of(kube: Kube, namespace: str, name: str) -> list[Manifest]:
    """Every object carrying the ownership labels of ModelService namespace/name."""
    found: list[Manifest] = []
    for api_version, kind in OWNED_KINDS:
        selector = f"{labels.OWNER_NAME}={name}"
        if kind in CLUSTER_SCOPED_KINDS:
            found += kube.list(api_version, kind, None, f"{selector},{labels.OWNER_NAMESPACE}={namespace}")
        else:
            found += kube.list(api_version, kind, namespace, selector)
    return found


def ref(obj: Manifest) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


def group_of(obj: Manifest) -> str:
    kind = obj["kind"]
    component = (obj["metadata"].get("labels") or {}).get(labels.COMPONENT)
    if kind in CLUSTER_SCOPED_KINDS:
        return "cluster-scoped"
    if kind in MONITORING_KINDS:
        return "monitoring"
    if kind in ROUTING_KINDS:
        return "routing"
    if kind == "Deployment" and component in SERVING_COMPONENTS:
        return "serving"
    return "EPP"


def _detail(obj: Manifest) -> str:
    if obj["kind"] == "Deployment":
        ready = (obj.get("status") or {}).get("readyReplicas") or 0
        return f"{ready}/{(obj.get('spec') or {}).get('replicas', 1)} ready"
    if obj["kind"] == "ConfigMap":
        return ", ".join(sorted(obj.get("data") or {}))
    return ""


def tree(console: Console, title: str, children: Sequence[Manifest]) -> list[str]:
    """`title` and its children grouped (serving, EPP, routing, monitoring, cluster-scoped)."""
    grouped = {g: sorted((c for c in children if group_of(c) == g), key=ref) for g in GROUPS}
    present = [g for g in GROUPS if grouped[g]]
    width = max((len(ref(c)) for c in children), default=0)
    lines = [console.paint(title, "bold") + console.paint(f"  ({len(children)} children)", "dim")]
    for gi, group in enumerate(present):
        last_group = gi == len(present) - 1
        lines.append(("└─ " if last_group else "├─ ") + console.paint(group, "cyan"))
        stem = "   " if last_group else "│  "
        for ci, child in enumerate(grouped[group]):
            branch = "└─ " if ci == len(grouped[group]) - 1 else "├─ "
            detail = console.paint(_detail(child), "dim")
            lines.append((stem + branch + pad(ref(child), width) + "  " + detail).rstrip())
    return lines


def table(console: Console, header: Sequence[str], rows: Sequence[Sequence[Cell]]) -> list[str]:
    """Aligned columns; widths come from the plain text, colours are added after padding."""
    widths = [len(h) for h in header]
    for row in rows:
        widths = [max(w, len(text)) for w, (text, _) in zip(widths, row, strict=True)]
    lines = [
        "  ".join(console.paint(h.ljust(w), "dim") for h, w in zip(header, widths, strict=True)).rstrip()
    ]
    for row in rows:
        cells = [console.paint(text.ljust(w), *style) for (text, style), w in zip(row, widths, strict=True)]
        lines.append("  ".join(cells).rstrip())
    return lines


@dataclass
class Tracked:
    """One ModelService followed through its phases (the history is what the table shows)."""

    namespace: str
    name: str
    history: list[str] = field(default_factory=list)
    obj: Manifest | None = None

    @property
    def status(self) -> dict[str, Any]:
        return dict((self.obj or {}).get("status") or {})

    @property
    def phase(self) -> str:
        return str(self.status.get("phase") or "")

    def ready_condition(self) -> dict[str, Any]:
        conditions = self.status.get("conditions") or []
        return next((dict(c) for c in conditions if c.get("type") == "Ready"), {})

    def observe(self, obj: Manifest | None) -> str | None:
        """Record the latest object; returns the new phase if it changed."""
        self.obj = obj
        phase = self.phase or (NO_STATUS if obj is not None else "")
        if phase and (not self.history or self.history[-1] != phase):
            self.history.append(phase)
            return phase
        return None

    def done(self) -> bool:
        return self.phase == "Ready" and self.ready_condition().get("status") == "True"


def _counts(status: dict[str, Any], role: str) -> str:
    replicas = status.get(f"{role}Replicas")
    return f"{status.get(f'{role}Ready') or 0}/{replicas}" if replicas else "-"


def status_table(console: Console, tracked: Sequence[Tracked]) -> list[str]:
    rows: list[list[Cell]] = []
    for t in tracked:
        ready = t.ready_condition()
        phase = t.phase or "-"
        seen = " → ".join(t.history) or "-"
        rows.append(
            [
                (t.name, ("bold",)),
                (phase, (PHASE_STYLES.get(phase, "dim"),)),
                (str(ready.get("status", "-")), ("green",) if ready.get("status") == "True" else ()),
                (str(ready.get("reason", "-")), ("dim",)),
                (_counts(t.status, "decode"), ()),
                (_counts(t.status, "prefill"), ()),
                (seen, ("dim",)),
            ]
        )
    header = ("NAME", "PHASE", "READY", "REASON", "DECODE", "PREFILL", "PHASES SEEN")
    return table(console, header, rows)


def added_fields(applied: Manifest, stored: Manifest) -> list[str]:
    """`path: value` for every spec field and annotation in `stored` that `applied` did not set."""
    ignored = {"kubectl.kubernetes.io/last-applied-configuration"}
    annotations = stored["metadata"].get("annotations") or {}
    given = applied["metadata"].get("annotations") or {}
    found = [
        f"metadata.annotations[{key}]: {value}"
        for key, value in sorted(annotations.items())
        if key not in ignored and key not in given
    ]
    return found + _added("spec", applied.get("spec") or {}, stored.get("spec") or {})


def _added(path: str, applied: Any, stored: Any) -> list[str]:
    if isinstance(stored, dict):
        base = applied if isinstance(applied, dict) else {}
        return [line for key in stored for line in _added(f"{path}.{key}", base.get(key), stored[key])]
    return [] if applied is not None else [f"{path}: {stored}"]
