"""JSON encoding and decoding on the hot path (orjson), with the standard library as fallback.

orjson is many times faster than `json` for the objects the server serialises on every request
and watch event. It refuses integers beyond 64 bits, which a custom resource may legitimately
carry, so those rare documents go through the standard library instead.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def dumps(obj: Any) -> bytes:
    try:
        return orjson.dumps(obj)
    except TypeError:  # orjson.JSONEncodeError: an integer wider than 64 bits
        return _dumps(obj).encode()


def loads(raw: bytes | str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)  # wide integers; genuinely bad JSON raises ValueError here too


def clone(value: Any) -> Any:
    """Deep copy of JSON data (a serialisation round trip is faster than copy.deepcopy)."""
    try:
        return orjson.loads(orjson.dumps(value))
    except (TypeError, orjson.JSONDecodeError):
        return json.loads(_dumps(value))
