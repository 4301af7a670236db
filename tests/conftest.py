"""Fixtures shared by every test package.

Team data (the behavioral spec and upstream CRD schemas) lives beside the repository, not in it.
Tests reach it only through ``team_data_dir``; a clone without it skips exactly those tests.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from localcluster import LocalCluster

REPO_ROOT = Path(__file__).resolve().parent.parent
TEAM_DATA_DIR = REPO_ROOT.parent / "shared"


@pytest.fixture(scope="session")
def team_data_dir() -> Path:
    """The team data folder (`../shared`): spec and upstream CRD schemas; skips when absent."""
    if not (TEAM_DATA_DIR / "schemas" / "crds").is_dir():
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
