"""Log lines logged on the event loop are written in batches, without losing order or urgency."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import threading
from collections.abc import Iterator

import pytest

from webhook import logs
from webhook.logs import BatchedLines, JsonFormatter


class CountingStream(io.StringIO):
    """A stream that counts its writes (each one is a system call on a real stderr)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)

    def messages(self) -> list[str]:
        return [json.loads(line)["msg"] for line in self.getvalue().splitlines()]


@pytest.fixture
def stream() -> CountingStream:
    return CountingStream()


@pytest.fixture
def logger(stream: CountingStream) -> logging.Logger:
    log = logging.getLogger("test.batched")
    log.propagate = False
    log.setLevel(logging.INFO)
    handler = BatchedLines(stream, delay=0)
    handler.setFormatter(JsonFormatter())
    log.handlers[:] = [handler]
    return log


def _handler(logger: logging.Logger) -> BatchedLines:
    handler = logger.handlers[0]
    assert isinstance(handler, BatchedLines)
    return handler


async def _until_written(stream: CountingStream) -> None:
    for _ in range(100):  # loop turns, not time: the flush is due on the next one or two
        if stream.writes:
            return
        await asyncio.sleep(0)
    raise AssertionError("the kept lines were never written")


async def test_lines_on_the_loop_are_written_together_after_the_delay(
    logger: logging.Logger, stream: CountingStream
) -> None:
    _handler(logger).attach(asyncio.get_running_loop())
    for n in range(3):
        logger.info("denied %d", n)
    assert stream.writes == 0
    await _until_written(stream)
    assert stream.writes == 1
    assert stream.messages() == ["denied 0", "denied 1", "denied 2"]


async def test_a_warning_is_written_at_once_after_the_kept_lines(
    logger: logging.Logger, stream: CountingStream
) -> None:
    _handler(logger).attach(asyncio.get_running_loop())
    logger.info("kept")
    logger.warning("urgent")
    assert stream.messages() == ["kept", "urgent"]
    assert stream.writes == 1
    for _ in range(3):  # the flush that was due finds nothing more to write
        await asyncio.sleep(0)
    assert stream.writes == 1


async def test_a_line_from_another_thread_writes_the_kept_ones_first(
    logger: logging.Logger, stream: CountingStream
) -> None:
    _handler(logger).attach(asyncio.get_running_loop())
    logger.info("kept on the loop")
    thread = threading.Thread(target=logger.info, args=("from a worker",))
    thread.start()
    thread.join()
    assert stream.messages() == ["kept on the loop", "from a worker"]
    for _ in range(3):  # the timer armed for the kept line fires on nothing
        await asyncio.sleep(0)
    assert stream.writes == 1


async def test_detach_writes_what_is_kept_and_later_lines_go_at_once(
    logger: logging.Logger, stream: CountingStream
) -> None:
    handler = _handler(logger)
    handler.attach(asyncio.get_running_loop())
    logger.info("kept")
    handler.detach()
    assert stream.messages() == ["kept"]
    logger.info("after")
    assert stream.messages() == ["kept", "after"]


def test_without_a_loop_every_line_is_written_at_once(logger: logging.Logger, stream: CountingStream) -> None:
    logger.info("one")
    logger.info("two")
    assert stream.writes == 2 and stream.messages() == ["one", "two"]


def test_logging_shutdown_flushes_the_kept_lines(stream: CountingStream) -> None:
    # What happens at exit: the loop has stopped, and logging.shutdown flushes every handler.
    handler = BatchedLines(stream, delay=3600)
    handler.setFormatter(JsonFormatter())
    loop = asyncio.new_event_loop()
    try:
        handler.attach(loop)
        handler.emit(logging.makeLogRecord({"msg": "last words", "levelno": logging.INFO}))
        assert stream.writes == 0
    finally:
        loop.close()
    logging.shutdown([lambda: handler])
    assert stream.messages() == ["last words"]


# --- the direct path of request-rate lines --------------------------------------------------------


@contextlib.contextmanager
def service_logging(stream: CountingStream) -> Iterator[BatchedLines]:
    """`configure`'s setup on the root logger, as in the service, restored afterwards. Entered in
    the test's body: pytest adds its own capturing handlers to the root at each phase."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    handler = logs.configure("INFO", stream)
    try:
        yield handler
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


FIELDS: dict[str, object] = {
    "uid": "u-1",
    "hook": "validate",
    "operation": "CREATE",
    "verdict": "denied",
    "user": "alice",
    "object": "ns/name",
    "reason": "Invalid",
}


def _entries(stream: CountingStream) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_direct_line_is_the_line_logging_writes(stream: CountingStream) -> None:
    log = logging.getLogger("webhook.app")
    with service_logging(stream) as handler:
        assert logs._direct_handler(log) is handler, "the service's setup takes the direct path"
        logs.info(log, "admission denied", dict(FIELDS))
        log.info("admission %s", "denied", extra=dict(FIELDS))
    direct, logged = _entries(stream)
    assert list(direct) == list(logged), "same fields in the same order"
    assert {**direct, "ts": None} == {**logged, "ts": None}
    assert direct["msg"] == "admission denied" and direct["uid"] == "u-1"


def test_the_direct_path_is_taken_only_where_nothing_could_change_the_line(stream: CountingStream) -> None:
    log = logging.getLogger("webhook.app")

    def redact(record: logging.LogRecord) -> bool:
        record.user = "(redacted)"
        return True

    extra = io.StringIO()
    parent_handler = logging.StreamHandler(extra)
    with service_logging(stream):
        log.addFilter(redact)
        try:
            logs.info(log, "admission denied", dict(FIELDS))
        finally:
            log.removeFilter(redact)
        logging.getLogger("webhook").addHandler(parent_handler)
        try:
            logs.info(log, "admission denied", dict(FIELDS))
        finally:
            logging.getLogger("webhook").removeHandler(parent_handler)
        log.setLevel(logging.WARNING)
        try:
            logs.info(log, "admission denied", dict(FIELDS))
        finally:
            log.setLevel(logging.NOTSET)
    redacted, second = _entries(stream)
    assert redacted["user"] == "(redacted)", "the logger's filter saw the record"
    assert second["user"] == "alice"
    assert "admission denied" in extra.getvalue(), "a handler up the hierarchy got the line too"


def test_without_configure_the_line_goes_through_logging() -> None:
    log = logging.getLogger("test.direct")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        logs.info(log, "admission warned", dict(FIELDS))
    finally:
        log.removeHandler(handler)
        log.setLevel(logging.NOTSET)
    (entry,) = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert entry["msg"] == "admission warned" and entry["reason"] == "Invalid"
