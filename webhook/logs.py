"""Structured JSON logs: one object per line, with the `extra={...}` fields of each call.

Request lines carry the admission `uid` so a denial can be matched with the API server's audit log.
Allowed admissions are logged at DEBUG only (at thousands of requests per second INFO would be
megabytes a minute); denials and warnings at INFO with who asked and for which object. Object
contents are never logged at INFO; DEBUG adds the error list of a denial.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys

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
        entry: dict[str, object] = {
            "ts": self._timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key[0] != "_":
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
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


def configure(level: str) -> None:
    """Send every log line as JSON to stderr at `level` (aiohttp's access log stays off)."""
    handler = logging.StreamHandler(sys.stderr)
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
