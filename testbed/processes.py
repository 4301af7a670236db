"""Child processes that cannot outlive their parent, each with its own log file, and bounded waits.

Every program of the control plane (and every service the demo and the end-to-end tests start)
runs as a `Child`: stdout and stderr go to one log file, kept after a failure for the reader.
`stop` asks with SIGTERM and insists with SIGKILL after a bound. On Linux each child started by
the main thread is also told to die with its parent (``PR_SET_PDEATHSIG``), so a test run that is
itself killed leaves no etcd or API server behind on the machine.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

STOP_GRACE_SECONDS = 5.0
FIRST_INTERVAL = 0.02
MAX_INTERVAL = 0.2
_PR_SET_PDEATHSIG = 1


class TestbedError(Exception):
    """Something the control plane or a process needed did not happen; the message says what."""

    __test__ = False  # a name pytest would otherwise try to collect


class WaitTimeout(TestbedError):
    """A bounded wait ran out of time."""


class ProcessExited(TestbedError):
    """A child ended while something still waited for it."""


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
    every check. Exceptions from `check` propagate, which is how a check gives up early (a
    process that died will never become ready). Polls start short and back off.
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


@contextlib.contextmanager
def deferred_signals() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP until the block ends (main thread, POSIX), so a process is
    never started without also being recorded for its stop: a handler that raised in between
    would leave it running unseen."""
    held = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _prepare_child() -> None:
    """Runs in the child between fork and exec: no signal held back (a mask survives exec, and
    `deferred_signals` may be holding some in the parent)."""
    signal.pthread_sigmask(signal.SIG_SETMASK, set())


def _prepare_child_of_main_thread() -> None:
    """As `_prepare_child`, and on Linux SIGKILL when the parent dies. The kernel ties this to the
    parent *thread*, so it is only asked for by the main thread, which lives as long as the
    process; a child started from a worker thread (a restart run with `asyncio.to_thread`, say)
    would otherwise be killed when that worker is retired."""
    _prepare_child()
    if sys.platform == "linux":
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class Child:
    """One running child process and its log file."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        environ = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        preexec = None
        if hasattr(signal, "pthread_sigmask"):
            main = threading.current_thread() is threading.main_thread()
            preexec = _prepare_child_of_main_thread if main else _prepare_child
        self._log_start = log_path.stat().st_size if log_path.exists() else 0
        # Appending keeps the earlier run's lines when a program is restarted under the same name.
        with log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=environ,
                cwd=cwd,
                preexec_fn=preexec,
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_text(self) -> str:
        """What this run of the program has logged (earlier runs under the same name excluded)."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(self._log_start)
                return log.read().decode(errors="replace")
        except OSError:
            return ""

    def tail(self, lines: int = 12) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def ensure_alive(self) -> None:
        code = self.popen.poll()
        if code is not None:
            raise ProcessExited(f"{self.name} exited with code {code}; its last log lines:\n{self.tail()}")

    def wait_for_log(
        self, pattern: str, timeout: float, on_poll: Callable[[], None] | None = None
    ) -> re.Match[str]:
        """The first match of `pattern` in the log; fails if the process exits first."""
        regex = re.compile(pattern)

        def check() -> re.Match[str] | None:
            found = regex.search(self.log_text())
            if found is None:
                self.ensure_alive()
            return found

        return wait_for(
            check,
            timeout=timeout,
            what=f"{self.name} to log /{pattern}/",
            explain=lambda: f"last log lines:\n{self.tail()}",
            on_poll=on_poll,
        )

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> int:
        """SIGTERM, wait up to `grace` seconds, then SIGKILL; returns the exit code."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                return self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                self.popen.kill()
        return self.popen.wait()

    def kill(self) -> int:
        """SIGKILL now, as a crash would end it."""
        if self.popen.poll() is None:
            self.popen.kill()
        return self.popen.wait()


def stop_all(children: Sequence[Child], grace: float = STOP_GRACE_SECONDS) -> None:
    """SIGTERM every live child at once (their shutdowns overlap), SIGKILL what is left at the bound."""
    running = [c for c in children if c.alive()]
    for child in running:
        child.popen.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for child in running:
        try:
            child.popen.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
    for child in children:
        child.popen.wait()
