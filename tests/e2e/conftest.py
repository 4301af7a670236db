"""End-to-end fixtures: the running system, one per test module, and its logs on failure.

`system` is the default topology (one webhook, one reconciler); a module needing another one
(replicas, leader election, an image policy) defines its own `system` fixture with
`running_system(...)`. Starting the processes costs about two seconds, so modules share one
system and their tests use distinct ModelService names.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator

import pytest

from tests.e2e.system import System, running_system

LOG_LINES = 25


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    with running_system(tmp_path_factory.mktemp("system")) as running:
        yield running


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach the last log lines of every process of a failed test's system to its report."""
    report = yield
    running = getattr(item, "funcargs", {}).get("system")
    if report.failed and isinstance(running, System):
        for child in running.supervisor.children:
            report.sections.append((f"{child.name} (pid {child.pid}) log", child.tail(LOG_LINES)))
        for control_plane in running.supervisor.control_planes:
            report.sections.append(
                (f"control plane logs ({control_plane.log_dir})", control_plane.logs(LOG_LINES))
            )
    return report
