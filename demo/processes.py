"""Supervised child processes: start with a log file, read what they announce, stop them for sure.

Each child writes stdout and stderr to one log file. Services started on port 0 announce the
port they bound in that log, so `wait_for_log` reads it back. `stop` asks politely (SIGTERM),
then insists (SIGKILL) after a bound; `Supervisor` stops every child it started, newest first,
whatever happened before, so no process outlives the demo or a test.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from demo.waiting import DemoError, wait_for

REPO_ROOT = Path(__file__).resolve().parent.parent
STOP_GRACE_SECONDS = 5.0


class ProcessExited(DemoError):
    """A child ended while something still waited for it."""


class Child:
    """One running child process and its log file."""

    def __init__(self, name: str, argv: Sequence[str], log_path: Path, env: Mapping[str, str] | None = None):
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        environ = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        with log_path.open("wb") as log:
            self.popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=environ,
                cwd=REPO_ROOT,
            )

    @classmethod
    def python(
        cls, name: str, module: str, args: Sequence[str], log_dir: Path, env: Mapping[str, str] | None = None
    ) -> Child:
        """`python -m module args...` with this interpreter, logging to `log_dir/name.log`."""
        return cls(name, [sys.executable, "-m", module, *args], log_dir / f"{name}.log", env)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
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


class Supervisor:
    """Starts children and guarantees they are stopped (use as a context manager)."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.children: list[Child] = []

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()

    def python(
        self, name: str, module: str, args: Sequence[str], env: Mapping[str, str] | None = None
    ) -> Child:
        child = Child.python(name, module, args, self.log_dir, env)
        self.children.append(child)
        return child

    def stop_all(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Stop every child, newest first; SIGTERM all at once so their drains overlap."""
        running = [c for c in reversed(self.children) if c.alive()]
        for child in running:
            child.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for child in running:
            try:
                child.popen.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
        for child in self.children:
            child.popen.wait()
