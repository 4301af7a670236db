"""Server-side printing: `meta.k8s.io/v1` Tables, which `kubectl get` asks for.

Built-in kinds get the columns kubectl users expect (READY, UP-TO-DATE, TYPE, CLUSTER-IP, ...);
custom resources get their CRD's `additionalPrinterColumns` (evaluated with a small JSONPath
subset: `.a.b`, `[n]`, `[*]` and `[?(@.k=="v")]`) or NAME and AGE. Rows carry the object as
PartialObjectMetadata unless `includeObject` asks otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from localcluster.registry import PrinterColumn, ResourceType

Manifest = dict[str, Any]
Cell = Callable[[Manifest], Any]

TABLE_ACCEPT = "as=Table"


def wants_table(accept: str) -> bool:
    return TABLE_ACCEPT in accept and "g=meta.k8s.io" in accept


def human_age(stamp: str | None, now: datetime | None = None) -> str:
    """Like kubectl's HumanDuration: 45s, 5m30s, 3h, 2d4h, 400d."""
    if not stamp:
        return "<unknown>"
    try:
        then = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return "<invalid>"
    seconds = max(0, int(((now or datetime.now(UTC)) - then).total_seconds()))
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 120:
        return f"{seconds}s"
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if hours < 3:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 192:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    return f"{days}d"


_STEP = re.compile(
    r"\.([A-Za-z0-9_\-/]+)|\[(\d+)\]|\[\*\]|\[\?\(@\.([A-Za-z0-9_.\-]+)\s*==\s*[\"']([^\"']*)[\"']\)\]"
)


def jsonpath(obj: Any, path: str) -> list[Any]:
    """Evaluate the JSONPath subset printer columns use; returns every match."""
    path = path.strip().removeprefix("{").removesuffix("}").removeprefix("$")
    current = [obj]
    for match in _STEP.finditer(path):
        key, index, filter_key, filter_value = match.groups()
        nxt: list[Any] = []
        for value in current:
            if key is not None and isinstance(value, dict) and key in value:
                nxt.append(value[key])
            elif index is not None and isinstance(value, list) and int(index) < len(value):
                nxt.append(value[int(index)])
            elif match.group(0) == "[*]" and isinstance(value, list):
                nxt.extend(value)
            elif filter_key is not None and isinstance(value, list):
                nxt.extend(
                    v for v in value if isinstance(v, dict) and str(_dig(v, filter_key)) == filter_value
                )
        current = nxt
    return current


def _dig(value: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _col(name: str, kind: str = "string", fmt: str = "", priority: int = 0) -> Manifest:
    return {"name": name, "type": kind, "format": fmt, "description": name, "priority": priority}


def _spec(obj: Manifest) -> Manifest:
    return obj.get("spec") or {}


def _status(obj: Manifest) -> Manifest:
    return obj.get("status") or {}


def _ports(obj: Manifest) -> str:
    ports = [f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in _spec(obj).get("ports") or ()]
    return ",".join(ports) or "<none>"


def _pod_ready(obj: Manifest) -> str:
    statuses = _status(obj).get("containerStatuses") or ()
    ready = sum(1 for s in statuses if s.get("ready"))
    return f"{ready}/{len(_spec(obj).get('containers') or ())}"


BUILTIN_COLUMNS: dict[tuple[str, str], list[tuple[Manifest, Cell]]] = {
    ("", "namespaces"): [(_col("Status"), lambda o: _status(o).get("phase", ""))],
    ("", "pods"): [
        (_col("Ready"), _pod_ready),
        (_col("Status"), lambda o: _status(o).get("phase", "")),
        (_col("Restarts", "string"), lambda o: "0"),
    ],
    ("", "services"): [
        (_col("Type"), lambda o: _spec(o).get("type", "")),
        (_col("Cluster-IP"), lambda o: _spec(o).get("clusterIP", "<none>")),
        (_col("External-IP"), lambda o: "<none>"),
        (_col("Port(s)"), _ports),
    ],
    ("", "configmaps"): [
        (_col("Data", "integer"), lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {}))
    ],
    ("", "secrets"): [
        (_col("Type"), lambda o: o.get("type", "")),
        (_col("Data", "integer"), lambda o: len(o.get("data") or {})),
    ],
    ("apps", "deployments"): [
        (_col("Ready"), lambda o: f"{_status(o).get('readyReplicas', 0)}/{_spec(o).get('replicas', 0)}"),
        (_col("Up-to-date", "integer"), lambda o: _status(o).get("updatedReplicas", 0)),
        (_col("Available", "integer"), lambda o: _status(o).get("availableReplicas", 0)),
    ],
    ("coordination.k8s.io", "leases"): [(_col("Holder"), lambda o: _spec(o).get("holderIdentity", ""))],
}


def _custom_columns(rt: ResourceType, version: str) -> list[tuple[Manifest, Cell]] | None:
    columns: tuple[PrinterColumn, ...] = rt.columns.get(version, ())
    if not columns:
        return None
    out: list[tuple[Manifest, Cell]] = []
    for col in columns:
        kind = col.type if col.type in ("integer", "number", "boolean", "date") else "string"

        def cell(obj: Manifest, col: PrinterColumn = col, kind: str = kind) -> Any:
            values = jsonpath(obj, col.json_path)
            if not values:
                return None
            if kind == "date":
                return human_age(str(values[0]))
            if len(values) == 1:
                return values[0]
            return ",".join(str(v) for v in values)

        out.append((_col(col.name, kind, col.format, col.priority), cell))
    return out


def columns_for(rt: ResourceType, version: str) -> list[tuple[Manifest, Cell]]:
    name = (_col("Name", "string", "name"), lambda o: o["metadata"].get("name", ""))
    age = (_col("Age", "date"), lambda o: human_age(o["metadata"].get("creationTimestamp")))
    custom = _custom_columns(rt, version) if rt.custom else None
    if custom is not None:
        return [name, *custom]
    return [name, *BUILTIN_COLUMNS.get(rt.key, []), age]


def _row_object(obj: Manifest, include: str) -> Manifest | None:
    if include == "None":
        return None
    if include == "Object":
        return obj
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]}


def table(
    rt: ResourceType,
    version: str,
    objects: list[Manifest],
    list_meta: Manifest,
    include: str = "Metadata",
    headers: bool = True,
) -> Manifest:
    cols = columns_for(rt, version)
    rows = []
    for obj in objects:
        row: Manifest = {"cells": [cell(obj) for _, cell in cols]}
        row_obj = _row_object(obj, include)
        if row_obj is not None:
            row["object"] = row_obj
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": [definition for definition, _ in cols] if headers else [],
        "rows": rows,
    }
