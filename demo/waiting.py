"""Bounded waits and the demo's error: `testbed.processes` provides both.

Every wait in the demo and the end-to-end tests goes through `wait_for`, so none can hang: the
timeout is mandatory, the error names what was awaited and what was last seen, and a check can
abort early (a process that died will never become ready). A `DemoError` is a step that failed,
with a message for a person to read; a process that exited or a wait that timed out is one too.
"""

from __future__ import annotations

from testbed.processes import TestbedError as DemoError
from testbed.processes import WaitTimeout, wait_for

__all__ = ["DemoError", "WaitTimeout", "wait_for"]
