"""Bounded waits: poll a condition until it holds or a deadline passes, then fail with a reason.

Every wait in the demo and the end-to-end tests goes through `wait_for`, so none can hang: the
timeout is mandatory, the error names what was awaited and what was last seen, and a check can
abort early (a process that died will never become ready). The poll interval starts short, so
fast transitions are seen quickly, and backs off to keep an idle wait cheap.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

FIRST_INTERVAL = 0.02
MAX_INTERVAL = 0.2


class DemoError(Exception):
    """A step failed; the message says what and why, for a person to read."""


class WaitTimeout(DemoError):
    """A bounded wait ran out of time."""


def wait_for(
    check: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    explain: Callable[[], str] | None = None,
    on_poll: Callable[[], None] | None = None,
) -> T:
    """Call `check` until it returns something other than None (returned) or `timeout` passes.

    `explain` describes the last observed state for the timeout message; `on_poll` runs after
    every check (the demo redraws its display there). Exceptions from `check` propagate, which is
    how a check aborts the wait.
    """
    deadline = time.monotonic() + timeout
    interval = FIRST_INTERVAL
    while True:
        result = check()
        if result is not None:
            return result
        if on_poll is not None:
            on_poll()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            detail = explain() if explain is not None else ""
            raise WaitTimeout(
                f"timed out after {timeout:g}s waiting for {what}" + (f": {detail}" if detail else "")
            )
        time.sleep(min(interval, remaining))
        interval = min(interval * 1.5, MAX_INTERVAL)
