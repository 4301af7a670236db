"""Supervised processes: announced values are read back, and nothing survives `stop_all`."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from demo.processes import Child, ProcessExited, Supervisor
from demo.waiting import WaitTimeout, wait_for

IGNORES_SIGTERM = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('ready port=4242', flush=True); time.sleep(60)"
)


def python(supervisor: Supervisor, name: str, code: str) -> Child:
    child = Child(name, [sys.executable, "-c", code], supervisor.log_dir / f"{name}.log")
    supervisor.children.append(child)
    return child


def test_stop_all_kills_a_child_that_ignores_sigterm_after_the_grace_period(tmp_path: Path) -> None:
    with Supervisor(tmp_path) as supervisor:
        stubborn = python(supervisor, "stubborn", IGNORES_SIGTERM)
        port = stubborn.wait_for_log(r"port=(\d+)", timeout=10).group(1)

        supervisor.stop_all(grace=0.2)

    assert port == "4242"
    assert stubborn.popen.returncode == -9


def test_waiting_on_a_child_that_exits_fails_with_its_last_log_lines(tmp_path: Path) -> None:
    with Supervisor(tmp_path) as supervisor:
        child = python(supervisor, "crasher", "import sys; print('bad flag --x'); sys.exit(2)")

        with pytest.raises(
            ProcessExited, match=r"crasher exited with code 2; its last log lines:\nbad flag --x"
        ):
            child.wait_for_log("never printed", timeout=10)


def test_a_wait_that_runs_out_says_what_it_waited_for_and_what_it_saw() -> None:
    with pytest.raises(WaitTimeout, match=r"timed out after 0.05s waiting for the answer: still 41"):
        wait_for(lambda: None, timeout=0.05, what="the answer", explain=lambda: "still 41")
