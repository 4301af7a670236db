"""Which fields of an object one field manager owns, and whether applying would change the object.

A controller that writes with server-side apply under one field manager gets, in
``metadata.managedFields``, exactly the fields it set, as a ``fieldsV1`` tree: ``f:<name>`` for a
field, ``k:<json key>`` for an item of a list keyed by its merge keys (containers by name, ports by
port and protocol ...), ``v:<json value>`` for an item of a set, ``.`` for an item itself; a leaf
``{}`` is a scalar, an atomic list or struct, or an empty map or list (the API server records those
too, though it drops them from the object).

``FieldManager.differs(desired, live)`` says whether an apply of ``desired`` would change anything,
without asking the API server: some field the manager sets is missing from ``live``, has another
value, or is not its own (another manager took it), or the manager still owns a field ``desired``
no longer sets (the apply would remove it). Fields nobody asked for (server defaults, an
autoscaler's ``replicas``, a user's extra label or env var) are not the manager's and never make a
difference. The owned tree also says how each list merges, so no schema is needed: a keyed list is
compared item by item by key, an atomic one as a whole.

Values compare as ``is_subset`` does: the API server adds defaults inside atomic values and
stores quantities canonically (``1024Mi`` comes back as ``1Gi``). How two quantities compare is
given by the caller, which knows the quantity grammar it builds with.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson

from reconciler.runtime.client import Manifest

Fields = Mapping[str, Any]
"""A fieldsV1 tree."""
SameQuantity = Callable[[str, str], bool]
"""Whether two resource quantities are the same amount (``1Gi`` and ``1024Mi`` are)."""
UPDATE_OPERATION = "Update"
"""The operation of the entries that create, update and non-apply patch requests leave."""
_QUANTITY_MAPS = frozenset({"limits", "requests"})
_EMPTY: tuple[Any, ...] = ({}, [], None)


def owns(fields: Fields | None, *path: str) -> bool:
    """Whether ``fields`` has the field at ``path`` (names of nested fields)."""
    node = fields
    for name in path:
        if node is None:
            return False
        node = node.get(f"f:{name}")
    return node is not None


class FieldManager:
    """One field manager's entries in managedFields, and the comparison its applies are judged by."""

    def __init__(self, name: str, same_quantity: SameQuantity) -> None:
        self.name = name
        self._same_quantity = same_quantity

    def is_subset(self, desired: Any, live: Any, *, quantities: bool = False) -> bool:
        """Every field of ``desired`` is in ``live`` with the same value; lists match item by item.

        An empty map or list in ``desired`` also matches a missing field (the API server drops some).
        Under ``limits`` and ``requests`` values compare as quantities, because the API server stores
        them in canonical form and a textual difference there would apply on every pass.
        """
        if isinstance(desired, dict):
            if not isinstance(live, dict):
                return not desired and live is None
            for key, value in desired.items():
                if key not in live:
                    if value in _EMPTY:
                        continue
                    return False
                if not self.is_subset(value, live[key], quantities=quantities or key in _QUANTITY_MAPS):
                    return False
            return True
        if isinstance(desired, list):
            if not isinstance(live, list):
                return not desired and live is None
            return len(desired) == len(live) and all(
                self.is_subset(d, v) for d, v in zip(desired, live, strict=True)
            )
        if isinstance(desired, bool) or isinstance(live, bool):
            return desired is live
        if desired == live:
            return True
        return quantities and self._same_quantity(str(desired), str(live))

    # --- managedFields ----------------------------------------------------------------------------

    def _ours(self, entry: Mapping[str, Any]) -> bool:
        return entry.get("manager") == self.name and not entry.get("subresource")

    def owned(self, live: Mapping[str, Any]) -> Fields | None:
        """The fields this manager owns through apply, or None if it never applied to ``live``."""
        for entry in live["metadata"].get("managedFields") or ():
            if self._ours(entry) and entry.get("operation") == "Apply":
                found: Fields = entry.get("fieldsV1") or {}
                return found
        return None

    def has_update_entry(self, live: Mapping[str, Any]) -> bool:
        """Whether requests other than applies (create, update) under this manager's name own
        fields of ``live``."""
        entries = live["metadata"].get("managedFields") or ()
        return any(self._ours(e) and e.get("operation") == UPDATE_OPERATION for e in entries)

    def without_update_entries(self, live: Mapping[str, Any]) -> list[Manifest]:
        """``live``'s managedFields without this manager's entries of requests other than applies."""
        entries = live["metadata"].get("managedFields") or ()
        return [e for e in entries if not (self._ours(e) and e.get("operation") == UPDATE_OPERATION)]

    def slim(self, obj: Manifest) -> Manifest:
        """``obj`` with only the managedFields entries ``differs`` and ``has_update_entry`` read:
        this manager's (an informer's transform: other managers' entries are often most of an object)."""
        meta = obj.get("metadata")
        if meta and "managedFields" in meta:
            kept = [
                {"manager": e["manager"], "operation": e["operation"], "fieldsV1": e.get("fieldsV1") or {}}
                if e.get("operation") == "Apply"
                else {"manager": e["manager"], "operation": e["operation"]}
                for e in meta.pop("managedFields")
                if self._ours(e)
            ]
            if kept:
                meta["managedFields"] = kept
        return obj

    # --- the comparison ---------------------------------------------------------------------------

    def differs(self, desired: Manifest, live: Manifest) -> bool:
        """Whether applying ``desired`` would change ``live`` or what this manager owns of it."""
        fields = self.owned(live)
        if fields is None:
            return True
        body = {k: v for k, v in desired.items() if k not in ("apiVersion", "kind", "metadata")}
        meta = {k: v for k, v in desired["metadata"].items() if k not in ("name", "namespace")}
        if meta:  # name and namespace say which object; they are nobody's fields
            body["metadata"] = meta
        return self._map_differs(body, live, fields, quantities=False)

    def _map_differs(self, want: Mapping[str, Any], have: Any, fields: Fields, *, quantities: bool) -> bool:
        have = have if isinstance(have, dict) else {}
        for key, value in want.items():
            node = fields.get(f"f:{key}")
            if node is None:
                return True  # not ours (yet, or any more): the apply claims it
            in_quantities = quantities or key in _QUANTITY_MAPS
            if self._value_differs(value, have.get(key), node, quantities=in_quantities):
                return True
        # A field we own but no longer set: the apply releases it (and removes it if nobody else owns it).
        return any(name.startswith("f:") and name[2:] not in want for name in fields)

    def _value_differs(self, want: Any, have: Any, node: Fields, *, quantities: bool) -> bool:
        if isinstance(want, dict):
            if not node:  # a leaf: an atomic struct or map (a label selector), or an empty one
                return not self.is_subset(want, have, quantities=quantities)
            return self._map_differs(want, have, node, quantities=quantities)
        if isinstance(want, list):
            if any(name.startswith("k:") for name in node):
                return self._keyed_list_differs(want, have, node, quantities=quantities)
            if any(name.startswith("v:") for name in node):
                return _set_differs(want, have, node)
            return not self.is_subset(want, have, quantities=quantities)  # atomic: replaced whole
        return not self.is_subset(want, have, quantities=quantities)

    def _keyed_list_differs(self, want: list[Any], have: Any, node: Fields, *, quantities: bool) -> bool:
        """A list merged by key: our items by key, in our order (others' items may sit between)."""
        have_items = have if isinstance(have, list) else []
        keys = {name: orjson.loads(name[2:]) for name in node if name.startswith("k:")}
        unclaimed = dict(keys)
        last = -1
        for item in want:
            name = next((n for n, key in unclaimed.items() if _matches(item, key, partial=True)), None)
            if name is None:
                return True  # an item we do not own yet
            key = unclaimed.pop(name)
            index = next((i for i, h in enumerate(have_items) if _matches(h, key, partial=False)), -1)
            if index <= last:
                return True  # gone from the live list, or out of our order (the apply reorders)
            last = index
            if self._value_differs(item, have_items[index], node[name], quantities=quantities):
                return True
        return bool(unclaimed)  # an item we own but no longer want: the apply removes it


def _matches(item: Any, key: Mapping[str, Any], *, partial: bool) -> bool:
    """``item`` has ``key``'s values. ``partial``: a key field the item leaves out (for the API
    server to default, like a port's protocol) matches any value."""
    if not isinstance(item, dict):
        return False
    return all(item.get(k) == v or (partial and k not in item) for k, v in key.items())


def _set_differs(want: list[Any], have: Any, node: Fields) -> bool:
    ours = [orjson.loads(name[2:]) for name in node if name.startswith("v:")]
    have_items = have if isinstance(have, list) else []
    same_members = len(ours) == len(want) and all(w in ours for w in want)
    return not (same_members and all(w in have_items for w in want))
