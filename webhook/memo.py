"""A small bounded memory of recent answers, keyed by a digest of the content they depend on.

The same content reaches the webhook again and again: `kubectl apply --dry-run=server` and then the
apply, every retry of a write that lost an update conflict, every re-apply of an unchanged manifest
by a GitOps tool, and every UPDATE whose old object is the object admitted a moment before. Every
function memoized here is pure (same content and settings, same answer), so remembering an answer
changes nothing but the CPU it costs.

Keys are 16-byte BLAKE2b digests of the content (never the content itself) and only content up to
`MAX_CONTENT_BYTES` is remembered, so a flood of large distinct objects can neither grow memory past
`size` small entries nor evict with one request more than one entry.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")

MAX_CONTENT_BYTES = 64 * 1024
"""Larger content is answered without being remembered (real ModelServices are a few kB)."""


class Memo(Generic[V]):
    """Least-recently-used answers by content digest; `get_or_compute` is the only entry point."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[bytes, V] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get_or_compute(self, content: bytes, compute: Callable[[], V]) -> V:
        if len(content) > MAX_CONTENT_BYTES or self.size <= 0:
            self.misses += 1
            return compute()
        key = hashlib.blake2b(content, digest_size=16).digest()
        entries = self._entries
        found = entries.get(key)
        if found is not None:
            entries.move_to_end(key)
            self.hits += 1
            return found
        self.misses += 1
        value = compute()
        entries[key] = value
        if len(entries) > self.size:
            entries.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._entries)
