"""Structured JSON logs whose lines carry the reconcile key and a per-reconcile id.

The key and id live in context variables, so every log call inside a reconcile (in any module, in
any awaited coroutine) is tagged without passing a logger around. ``JsonFormatter`` renders the
message, the level, the logger, the context and every ``extra={...}`` field as one JSON object.
"""

from __future__ import annotations

import contextvars
import itertools
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

_key: contextvars.ContextVar[str | None] = contextvars.ContextVar("reconcile_key", default=None)
_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("reconcile_id", default=None)
_ids = itertools.count(1)
_PREFIX = f"{os.getpid():x}"

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


@contextmanager
def reconciling(key: str) -> Iterator[str]:
    """Tag log lines inside the block with ``key`` and a new reconcile id (yielded)."""
    reconcile_id = f"{_PREFIX}-{next(_ids):x}"
    key_token = _key.set(key)
    id_token = _id.set(reconcile_id)
    try:
        yield reconcile_id
    finally:
        _key.reset(key_token)
        _id.reset(id_token)


def current() -> tuple[str | None, str | None]:
    """(key, reconcile id) of the reconcile running in this context, if any."""
    return _key.get(), _id.get()


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, msg, key, reconcile_id, extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        key, reconcile_id = current()
        if key is not None:
            entry["key"] = key
            entry["reconcile_id"] = reconcile_id
        for name, value in record.__dict__.items():
            if name not in _STANDARD and not name.startswith("_"):
                entry[name] = value
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, separators=(",", ":"))


def configure(level: str = "info") -> None:
    """Send JSON lines to stderr at ``level`` (the root logger's only handler)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
