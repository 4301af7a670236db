"""The demo's lifecycle: run the steps, and stop everything afterwards whatever happened.

Exit codes: 0 when every step succeeded, 1 when one failed (the message says which and why),
130 when interrupted (Ctrl-C, SIGTERM, SIGHUP). The processes the demo started are stopped
(SIGTERM, then SIGKILL after a bound) and the temporary folder is removed in every case; a second
interrupt during that cleanup is ignored so it cannot leave processes behind.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from demo import steps
from demo.kubectl import find_kubectl
from demo.processes import Supervisor
from demo.terminal import INDENT, Console, Steps, seconds
from demo.waiting import DemoError
from testbed.binaries import BinariesError

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(Exception):
    """SIGTERM or SIGHUP arrived (SIGINT arrives as KeyboardInterrupt)."""


def _raise_interrupted(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signal.Signals(signum).name)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--pod-delay",
        type=float,
        default=0.4,
        help="seconds each step of a fake pod's life takes on the KWOK nodes (scheduled, init "
        "containers done, ready), so the status visibly moves (default 0.4)",
    )
    parser.add_argument(
        "--keep-workdir",
        action="store_true",
        help="keep the temporary folder (certificates, kubeconfig, logs)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="replace")  # box-drawing characters on a non-UTF-8 terminal
    console = Console.detect(sys.stdout, os.environ)
    signal.signal(signal.SIGTERM, _raise_interrupted)
    signal.signal(signal.SIGHUP, _raise_interrupted)
    work_dir = Path(tempfile.mkdtemp(prefix="modelservice-demo-"))
    started = time.monotonic()
    supervisor = Supervisor(work_dir / "logs")
    console.print(console.paint("ModelService operator demo", "bold"))
    console.print(
        console.paint(
            "a real control plane with fake GPU nodes, the admission webhook and the reconciler "
            "as local processes",
            "dim",
        )
    )
    console.print()
    try:
        code = _run(console, work_dir, supervisor, args.pod_delay)
    finally:
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        _clean_up(console, supervisor, work_dir, args.keep_workdir)
    if code == 0:
        console.print(
            console.paint(f"Demo finished in {seconds(time.monotonic() - started)}", "green", "bold")
        )
    return code


def _run(console: Console, work_dir: Path, supervisor: Supervisor, delay: float) -> int:
    ctx = steps.Context(console, work_dir, supervisor, delay)
    numbered = Steps(console, len(steps.STEPS))
    try:
        find_kubectl()  # before anything starts: without it the demo cannot get far
        for title, run_step in steps.STEPS:
            with numbered.step(title) as step:
                run_step(ctx, step)
            console.print()
    except (DemoError, BinariesError) as e:
        _failure(console, str(e))
        return 1
    except (KeyboardInterrupt, Interrupted) as e:
        _failure(console, f"interrupted ({e or 'SIGINT'})")
        return 130
    finally:
        if ctx.kube is not None:
            ctx.kube.close()
    return 0


def _failure(console: Console, message: str) -> None:
    lines = message.splitlines() or [""]
    console.print(console.paint(f"{INDENT}error: {lines[0].rstrip()}", "red", "bold"))
    for line in lines[1:]:
        console.print(INDENT + "  " + line)


def _clean_up(console: Console, supervisor: Supervisor, work_dir: Path, keep: bool) -> None:
    started = time.monotonic()
    running = supervisor.running()
    supervisor.stop_all()
    if keep:
        where = f"kept {work_dir} (logs in {supervisor.log_dir})"
    else:
        shutil.rmtree(work_dir, ignore_errors=True)
        where = "removed the temporary folder"
    console.print(
        console.paint(f"Stopped {running} processes, {where} ({seconds(time.monotonic() - started)})", "dim")
    )
