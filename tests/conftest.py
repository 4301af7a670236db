"""Fixtures shared by every test package.

Team data (the behavioral spec and upstream CRD schemas) lives beside the repository, not in it.
Tests reach it only through ``team_data_dir``; a clone without it skips exactly those tests.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from localcluster import LocalCluster
from testbed import ControlPlane, ensure_binaries

REPO_ROOT = Path(__file__).resolve().parent.parent
TEAM_DATA_DIR = REPO_ROOT.parent / "shared"


@pytest.fixture(scope="session")
def team_data_dir() -> Path:
    """The team data folder (`../shared`): spec and upstream CRD schemas; skips when absent."""
    if not (TEAM_DATA_DIR / "schemas" / "crds").is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(
                f"team data folder {TEAM_DATA_DIR} is absent, and CI always has it beside the repository"
            )
        pytest.skip(
            f"team data folder {TEAM_DATA_DIR} is absent (it sits beside the repository in CI); "
            "schema conformance tests need its upstream CRD schemas"
        )
    return TEAM_DATA_DIR


@pytest.fixture(autouse=True)
async def _no_leaked_tasks() -> AsyncIterator[None]:
    """Fail a test that leaves asyncio tasks running on its event loop (torn down last)."""
    yield
    current = asyncio.current_task()
    pending = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
    assert not pending, f"test leaked asyncio tasks: {pending}"


@pytest.fixture
async def local_cluster() -> AsyncIterator[LocalCluster]:
    """A fresh local Kubernetes API server on 127.0.0.1 (free port), stopped after the test."""
    async with LocalCluster(seed=1) as cluster:
        yield cluster


@pytest.fixture
async def local_cluster_factory() -> AsyncIterator[Callable[..., Awaitable[LocalCluster]]]:
    """Start clusters with custom options (`await local_cluster_factory(controllers=True)`)."""
    started: list[LocalCluster] = []

    async def start(**options: Any) -> LocalCluster:
        cluster = LocalCluster(**{"seed": 1, **options})
        await cluster.start()
        started.append(cluster)
        return cluster

    yield start
    for cluster in reversed(started):
        await cluster.stop()


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """One real control plane (etcd, kube-apiserver, controller-manager, scheduler, KWOK nodes) for
    the whole session; each test works in a namespace of its own (`ControlPlane.create_namespace`).

    The programs are built on first use (`make test` builds them before pytest starts, with
    progress lines); their logs stay under pytest's temporary folder after the run.
    """
    binaries = ensure_binaries(progress=lambda line: print(line, file=sys.__stderr__, flush=True))
    with ControlPlane(tmp_path_factory.mktemp("controlplane"), binaries) as cp:
        yield cp


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test that used the control plane gets its processes' last log lines in the report."""
    report = yield
    cp = getattr(item, "funcargs", {}).get("control_plane")
    if report.failed and isinstance(cp, ControlPlane):
        report.sections.append((f"control plane logs (folder {cp.log_dir})", cp.logs(10)))
    return report


@pytest.fixture
def namespace(control_plane: ControlPlane) -> Iterator[str]:
    """A namespace of the test's own on the session's control plane, deleted afterwards."""
    name = control_plane.create_namespace("test-")
    yield name
    control_plane.delete_namespace(name)
