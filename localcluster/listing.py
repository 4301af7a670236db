"""LIST: selectors, `limit`/`continue` pagination and the list envelope.

Items come sorted by (namespace, name), like etcd's key order. A continue token records the
list's resourceVersion and the last key returned; the next page starts after that key. Pages
read the current state rather than a snapshot (the real server reads a snapshot at the first
page's revision), and a token whose revision has left the history answers 410 like a compacted
etcd would.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from localcluster import errors, selectors
from localcluster.store import Store

Manifest = dict[str, Any]

_CONTINUE_GONE = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new "
    "list without the continue parameter, or use the continue token in this response to retrieve the "
    "remainder of the results. Continuing with the provided token results in an inconsistent list - objects "
    "that were created, modified, or deleted between the time the first chunk was returned and now may show "
    "up in the list."
)


@dataclass(frozen=True, slots=True)
class Query:
    labels: selectors.Selector = ()
    fields: selectors.FieldSelector = ()
    limit: int = 0
    continue_token: str = ""


def encode_continue(rv: int, namespace: str, name: str) -> str:
    raw = json.dumps({"v": "localcluster/1", "rv": rv, "start": [namespace, name]}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_continue(token: str, store: Store) -> tuple[str, str]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        rv, start = int(data["rv"]), data["start"]
        key = (str(start[0]), str(start[1]))
    except (ValueError, KeyError, TypeError, IndexError, binascii.Error) as exc:
        raise errors.bad_request(f"continue key is not valid: {exc}") from exc
    if rv < store.compacted:
        raise errors.gone(_CONTINUE_GONE)
    return key


def select(store: Store, res: tuple[str, str], namespace: str | None, query: Query) -> list[Manifest]:
    name = selectors.name_from_fields(query.fields)
    if name is not None and namespace is not None:
        one = store.get(res, namespace, name)
        candidates = [one] if one is not None else []
    else:
        candidates = store.items(res, namespace)
    return [
        obj
        for obj in candidates
        if (not query.labels or selectors.matches(query.labels, obj["metadata"].get("labels")))
        and (not query.fields or selectors.fields_match(query.fields, obj))
    ]


def page(store: Store, items: list[Manifest], query: Query) -> tuple[list[Manifest], Manifest]:
    """Apply limit/continue; returns the page and the list metadata."""
    rv = store.resource_version
    if query.continue_token:
        start = decode_continue(query.continue_token, store)
        items = [o for o in items if (o["metadata"].get("namespace") or "", o["metadata"]["name"]) > start]
    list_meta: Manifest = {"resourceVersion": str(rv)}
    if query.limit and len(items) > query.limit:
        last = items[query.limit - 1]["metadata"]
        list_meta["continue"] = encode_continue(rv, last.get("namespace") or "", last["name"])
        list_meta["remainingItemCount"] = len(items) - query.limit
        items = items[: query.limit]
    return items, list_meta


def envelope(kind: str, api_version: str, items: list[Manifest], list_meta: Manifest) -> Manifest:
    def convert(obj: Manifest) -> Manifest:
        return obj if obj.get("apiVersion") == api_version else {**obj, "apiVersion": api_version}

    return {
        "kind": kind,
        "apiVersion": api_version,
        "metadata": list_meta,
        "items": [convert(o) for o in items],
    }
