"""Structured JSON logs: one object per line, with the `extra={...}` fields of each call.

Request lines carry the admission `uid` so a denial can be matched with the API server's audit log.
Allowed admissions are logged at DEBUG only (at thousands of requests per second INFO would be
megabytes a minute); denials and warnings at INFO with who asked and for which object. Object
contents are never logged at INFO; DEBUG adds the error list of a denial as `detail`. Those
request-rate lines go through `info`, which skips logging's machinery when it would change nothing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import sys
import threading
import time
from collections.abc import Mapping
from typing import TextIO

import orjson
from aiohttp import http_exceptions

_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """`{"ts", "level", "logger", "msg", ...extra fields}`; exceptions under `exc`.

    Denials and warnings are logged at request rate, so a line costs a few microseconds: orjson,
    and the timestamp's seconds formatted once per second.
    """

    _second = -1
    _second_text = ""

    def format(self, record: logging.LogRecord) -> str:
        fields = {k: v for k, v in record.__dict__.items() if k not in _STANDARD and k[0] != "_"}
        if record.exc_info:
            fields["exc"] = self.formatException(record.exc_info)
        return self.line(record.created, record.levelname, record.name, record.getMessage(), fields)

    def line(
        self, created: float, level: str, logger: str, message: str, fields: Mapping[str, object]
    ) -> str:
        """The line of one entry (`format` of a record, and `info`'s direct path)."""
        entry: dict[str, object] = {
            "ts": self._timestamp(created),
            "level": level,
            "logger": logger,
            "msg": message,
        }
        entry.update(fields)
        return orjson.dumps(entry, default=str).decode()

    def _timestamp(self, created: float) -> str:
        second = int(created)
        if second != self._second:
            self._second = second
            self._second_text = dt.datetime.fromtimestamp(second, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return f"{self._second_text}.{int((created - second) * 1000):03d}+00:00"


class ClientFaultsInOneLine(logging.Filter):
    """aiohttp logs a traceback for every malformed request and every client that leaves early;
    those are the client's doing, so they become one INFO line naming the error."""

    CLIENT_FAULTS = (http_exceptions.HttpProcessingError, ConnectionError)

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, self.CLIENT_FAULTS):
            record.msg = f"{record.getMessage()}: {type(error).__name__}: {str(error)[:200]}"
            record.args = None
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


class BatchedLines(logging.Handler):
    """Writes the lines logged on the event loop's thread in one write per `delay`.

    A denial or warning is logged at request rate, and writing each line on its own was a third of
    the cost of a denied request (one write system call per line, since stderr is line-buffered).
    Lines logged on the loop's thread are kept and written together `delay` seconds after the
    first of them. A line at WARNING or above, a line from another thread, and every line before
    `attach` or after `detach` are written at once, after the kept ones, so the order holds and
    the lines that explain a failure are never waiting. `logging.shutdown`, which runs at exit,
    flushes the rest; what a SIGKILL can cost is the lines of the last `delay`.
    """

    def __init__(self, stream: TextIO, delay: float = 0.05) -> None:
        super().__init__()
        self.stream = stream
        self.delay = delay
        self._kept: list[str] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._pending: asyncio.TimerHandle | None = None

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Keep lines logged on `loop`'s thread (call it from that thread) until `detach`."""
        self._loop, self._loop_thread = loop, threading.get_ident()

    def detach(self) -> None:
        """Write what is kept and go back to writing every line at once."""
        self._loop = None
        self.flush()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        self.keep(line, record.levelno)

    def keep(self, line: str, level: int) -> None:
        """Write `line` (without its newline) by the rules above."""
        loop = self._loop
        with self.lock:  # type: ignore[union-attr]  # created by Handler.__init__
            self._kept.append(line + "\n")
            if (
                loop is None
                or level >= logging.WARNING
                or threading.get_ident() != self._loop_thread
                or loop.is_closed()
            ):
                self._write()
            elif self._pending is None:
                self._pending = loop.call_later(self.delay, self.flush)

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._write()

    def _write(self) -> None:
        # The timer is left to fire on an empty list rather than cancelled: this may run on another
        # thread or after the loop closed (at exit), where cancelling a loop's timer is not safe.
        self._pending = None
        if not self._kept:
            return
        text, self._kept = "".join(self._kept), []
        try:
            self.stream.write(text)
            self.stream.flush()
        except Exception:  # a closed or broken stream: the lines are lost, the service goes on
            self.handleError(logging.makeLogRecord({"msg": "could not write log lines"}))


def info(logger: logging.Logger, message: str, fields: Mapping[str, object]) -> None:
    """`logger.info(message, extra=fields)`, written straight to `configure`'s handler when that is
    where logging would send it, unchanged.

    Denials and warnings are logged at request rate, and the logging machinery around one line
    (a LogRecord, the walk up the logger hierarchy, two locks, the formatter's walk of the record)
    was 32 of the 119 µs a repeated denial cost in the server. The direct path writes the line
    logging would write (a test compares them), and only when nothing could change or drop it: the
    logger enabled for INFO and without a filter, no handler up the hierarchy but at the root, and
    there exactly one, `configure`'s, with no filter. Anything else goes through logging.
    """
    if not logger.isEnabledFor(logging.INFO):
        return
    handler = _direct_handler(logger)
    if handler is None:
        logger.info("%s", message, extra=fields)
        return
    assert isinstance(handler.formatter, JsonFormatter)
    handler.keep(handler.formatter.line(time.time(), "INFO", logger.name, message, fields), logging.INFO)


def _direct_handler(logger: logging.Logger) -> BatchedLines | None:
    # What logging does with a record of `logger`: its own filters (a logger's filters see only
    # its own records), then the handlers of it and of every ancestor it propagates to.
    if logger.filters or logger.disabled:
        return None
    node: logging.Logger | None = logger
    while node is not None and node is not logging.root:
        if node.handlers or not node.propagate:
            return None
        node = node.parent
    handlers = logging.root.handlers
    if len(handlers) != 1:
        return None
    handler = handlers[0]
    if (
        not isinstance(handler, BatchedLines)
        or handler.filters
        or handler.level > logging.INFO
        or type(handler.formatter) is not JsonFormatter
    ):
        return None
    return handler


def configure(level: str, stream: TextIO | None = None) -> BatchedLines:
    """Send every log line as JSON to stderr (or `stream`) at `level` (aiohttp's access log stays
    off); returns the handler, for `BatchedLines.attach` once the event loop runs."""
    handler = BatchedLines(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter())
    # The JSON lines carry no source location, thread or process: not gathering them (the logging
    # HOWTO's optimization settings) takes a stack walk off every denial and warning line.
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    server_log = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, ClientFaultsInOneLine) for f in server_log.filters):
        server_log.addFilter(ClientFaultsInOneLine())
    return handler
