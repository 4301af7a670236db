"""Read the webhook's JSON log: one logger's lines in-process, or a running process's stderr."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from webhook.logs import JsonFormatter


@contextmanager
def json_lines(name: str, level: int = logging.INFO) -> Iterator[list[dict[str, Any]]]:
    """The JSON lines `name` logs at `level` or above inside the block, filled in when it ends."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    logger.setLevel(level)
    lines: list[dict[str, Any]] = []
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
        lines.extend(json.loads(line) for line in stream.getvalue().splitlines())


async def next_line(stream: asyncio.StreamReader, message: str) -> dict[str, object]:
    """The next JSON line of a process's log whose `msg` is `message`."""
    while True:
        line = await stream.readline()
        assert line, f"the process ended before logging {message!r}"
        entry: dict[str, object] = json.loads(line)
        if entry["msg"] == message:
            return entry
