"""`python -m demo` as `make demo` runs it: succeeds, prints plain text when piped, leaves nothing behind.

Run with stdout on a pipe (as in CI) and its temporary folder redirected into the test's, so the
test can check that the folder is removed and every process the demo started is gone, both after
a full run and after a SIGTERM in the middle.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from demo.processes import REPO_ROOT
from demo.waiting import wait_for

DEMO_SECONDS = 90.0
PROC = Path("/proc")
pytestmark = pytest.mark.skipif(not PROC.is_dir(), reason="finding child processes needs /proc")


def start_demo(tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path]:
    out = tmp_path / "demo.out"
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp"), "NO_COLOR": "1"}
    (tmp_path / "tmp").mkdir()
    with out.open("wb") as sink:
        demo = subprocess.Popen(
            [sys.executable, "-m", "demo"], cwd=REPO_ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    return demo, out


def children_of(pid: int) -> set[int]:
    """Processes whose parent is `pid` (from /proc/*/stat)."""
    found = set()
    for stat in PROC.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # exited while we looked
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def _cmdline(pid: int) -> str:
    try:
        return (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:200]
    except OSError:
        return str(pid)


def running(pid: int) -> bool:
    try:
        state = (PROC / str(pid) / "stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_the_demo_runs_every_step_and_cleans_up(tmp_path: Path) -> None:
    demo, out = start_demo(tmp_path)

    code = demo.wait(DEMO_SECONDS)

    text = out.read_text()
    assert code == 0, text
    started = [int(pid) for pid in re.findall(r"\bpid (\d+)", text)]
    # the webhook, etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok, the reconciler
    assert len(started) == 7, text
    assert "\x1b[" not in text, "a pipe must get plain text"
    steps = re.findall(r"^(\d+)/11 .* ok \(\d+\.\ds\)$", text, re.MULTILINE)
    # Steps 8 and 11 print their lines as they go and their "ok" on a line of its own.
    assert steps == [str(n) for n in (1, 2, 3, 4, 5, 6, 7, 9, 10)], text
    assert re.search(r"^    ok \(\d+\.\ds\)$", text, re.MULTILINE)
    assert "Demo finished in" in text
    assert 'The ModelService "broken" is invalid' in text
    assert "removed ClusterRole/llm-qwen3-32b-pd-epp" in text
    assert re.search(r"too-big-decode-\S+: Pending, Unschedulable", text), text
    assert "Insufficient nvidia.com/gpu" in text
    # The ModelService's own status and Events carry the scheduler's words.
    assert re.search(r"^ +too-big +Failed +False +Unschedulable ", text, re.MULTILINE), text
    assert re.search(
        r"^    status.conditions\[Ready\].message: pod too-big-decode-\S+ \(asks for 16 nvidia.com/gpu\) "
        r"cannot be scheduled: 0/6 nodes are available: 6 Insufficient nvidia.com/gpu\.",
        text,
        re.MULTILINE,
    ), text
    assert re.search(
        r"^ +Warning +Unschedulable .* pod too-big-decode-\S+ \(asks for 16", text, re.MULTILINE
    ), text
    assert list((tmp_path / "tmp").iterdir()) == []
    assert [pid for pid in started if running(pid)] == []


def test_a_sigterm_mid_run_stops_every_process_and_removes_the_folder(tmp_path: Path) -> None:
    demo, out = start_demo(tmp_path)
    wait_for(
        lambda: "7/11 Starting the reconciler" in out.read_text() or None,
        timeout=DEMO_SECONDS,
        what="the demo to start the reconciler",
        explain=out.read_text,
    )
    started = children_of(demo.pid)

    demo.send_signal(signal.SIGTERM)
    code = demo.wait(DEMO_SECONDS)

    text = out.read_text()
    assert code == 130, text
    assert "interrupted (SIGTERM)" in text
    assert len(started) >= 2, "the webhook and the API server run by step 7"
    assert [_cmdline(pid) for pid in started if running(pid)] == []
    assert list((tmp_path / "tmp").iterdir()) == []
