"""``python -m testbed build``: obtain the programs; ``python -m testbed up``: run a control plane.

``up`` prints a kubeconfig path and keeps the control plane running until interrupted, for poking
at it with kubectl by hand.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import tempfile
import threading
from pathlib import Path

from testbed.binaries import PROGRAMS, BinariesError, ensure_binaries
from testbed.controlplane import ControlPlane
from testbed.processes import TestbedError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m testbed", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("build", help="find or build every program; print where each is")
    up = commands.add_parser("up", help="run a control plane with fake nodes until interrupted")
    up.add_argument("--dir", type=Path, help="work folder (default: a new temporary one)")
    args = parser.parse_args(argv)
    progress = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    try:
        binaries = ensure_binaries(progress)
        if args.command == "build":
            for program in PROGRAMS:
                print(f"{program}: {binaries.path(program)}")
            return 0
        work_dir = args.dir or Path(tempfile.mkdtemp(prefix="testbed-"))
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with ControlPlane(work_dir, binaries) as cp:
            print(f"control plane ready at {cp.url}\nexport KUBECONFIG={cp.kubeconfig}", flush=True)
            print(f"kubectl: {binaries.kubectl}\nlogs: {cp.log_dir}\n(Ctrl-C stops it)", flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                stop.wait()
        return 0
    except (BinariesError, TestbedError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
