"""Supervised child processes: the services the demo and the end-to-end tests start, and their logs.

A `Child` (see `testbed.processes`) writes stdout and stderr to one log file, announces the port
it bound there, and dies with its parent. `Supervisor` stops every child it knows, newest first,
whatever happened before, so no process outlives the demo or a test: the webhook and reconciler
it started itself first, then each control plane in `control_planes` (which stops its own
programs in the order they need).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from testbed.controlplane import ControlPlane
from testbed.processes import STOP_GRACE_SECONDS, Child, ProcessExited, deferred_signals, stop_all

REPO_ROOT = Path(__file__).resolve().parent.parent

__all__ = ["REPO_ROOT", "Child", "ProcessExited", "Supervisor", "python_child"]


def python_child(
    name: str, module: str, args: Sequence[str], log_dir: Path, env: Mapping[str, str] | None = None
) -> Child:
    """`python -m module args...` with this interpreter, from the repository root, logging to
    `log_dir/name.log`."""
    return Child(name, [sys.executable, "-m", module, *args], log_dir / f"{name}.log", env, cwd=REPO_ROOT)


class Supervisor:
    """Starts children and guarantees they are stopped (use as a context manager)."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.children: list[Child] = []
        self.control_planes: list[ControlPlane] = []

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()

    def python(
        self, name: str, module: str, args: Sequence[str], env: Mapping[str, str] | None = None
    ) -> Child:
        with deferred_signals():
            child = python_child(name, module, args, self.log_dir, env)
            self.children.append(child)
        return child

    def running(self) -> int:
        """How many processes are still alive, control planes included."""
        planes = [c for cp in self.control_planes for c in cp.children.values()]
        return sum(1 for child in [*self.children, *planes] if child.alive())

    def stop_all(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Stop every child, newest first (SIGTERM all at once so their drains overlap), then the
        control planes they talked to."""
        stop_all(list(reversed(self.children)), grace)
        for control_plane in reversed(self.control_planes):
            control_plane.stop()
