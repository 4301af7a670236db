"""Fixtures shared by every test package.

Team data (the behavioral spec and upstream CRD schemas) lives beside the repository, not in it.
Tests reach it only through ``team_data_dir``; a clone without it skips exactly those tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Generator, Iterator
from pathlib import Path

import pytest

from shared import api, labels
from testbed import ControlPlane, ensure_binaries
from testbed.controlplane import ApiError, Options
from tests.support.cluster import Cluster, keda_crd, modelservice_crd, proxy_for, upstream_crds

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
    # A transport closed during teardown finishes on a later turn of the loop (its last callback is
    # scheduled, not run). Closing the loop first leaves it open, and the garbage collector reports
    # it as unclosed in whatever test happens to be running then. Three turns, no waiting.
    for _ in range(3):
        await asyncio.sleep(0)
    current = asyncio.current_task()
    pending = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
    assert not pending, f"test leaked asyncio tasks: {pending}"


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """One real control plane (etcd, kube-apiserver, controller-manager, scheduler, KWOK nodes) for
    the whole session; each test works in a namespace of its own (`ControlPlane.create_namespace`).

    The programs are built on first use (`make test` builds them before pytest starts, with
    progress lines); their logs stay under pytest's temporary folder after the run.
    """
    binaries = ensure_binaries(progress=lambda line: print(line, file=sys.__stderr__, flush=True))
    crds = [modelservice_crd(), keda_crd()]  # KEDA's: a stand-in with its documented fields
    if (TEAM_DATA_DIR / "schemas" / "crds").is_dir():
        crds += upstream_crds(TEAM_DATA_DIR)  # without them, `installed_crds` skips its tests
    with ControlPlane(tmp_path_factory.mktemp("controlplane"), binaries, Options(crds=crds)) as cp:
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
    """A namespace of the test's own on the session's control plane, removed afterwards.

    No reconciler runs after the test to honour the ModelService finalizer, so teardown does its
    part: it drops the finalizers and deletes the cluster-scoped children it would have deleted;
    the namespace controller and the garbage collector remove the rest.
    """
    name = control_plane.create_namespace("test-")
    yield name
    release_namespace(control_plane, name)
    control_plane.delete_namespace(name)


def release_namespace(cp: ControlPlane, namespace: str) -> None:
    try:
        items = cp.api("GET", f"/apis/{api.API_VERSION}/namespaces/{namespace}/{api.PLURAL}")["items"]
    except ApiError:
        items = []  # the CRD is not installed on this control plane
    for obj in items:
        if obj["metadata"].get("finalizers"):
            path = f"/apis/{api.API_VERSION}/namespaces/{namespace}/{api.PLURAL}/{obj['metadata']['name']}"
            patch = {"metadata": {"finalizers": None}}
            with contextlib.suppress(ApiError):
                cp.api("PATCH", path, patch, content_type="application/merge-patch+json")
    selector = f"{labels.OWNER_NAMESPACE}={namespace}"
    for plural in ("clusterroles", "clusterrolebindings"):
        with contextlib.suppress(ApiError):
            cp.api("DELETE", f"/apis/rbac.authorization.k8s.io/v1/{plural}?labelSelector={selector}")


@pytest.fixture(scope="session")
def installed_crds(control_plane: ControlPlane, team_data_dir: Path) -> ControlPlane:
    """The session's control plane with the ModelService CRD and the upstream third-party CRDs.

    `control_plane` installed both as it started (whenever team data is there); this fixture only
    gates on team data, skipping its tests (or failing in CI) where it is absent.
    """
    return control_plane


@pytest.fixture
def cluster(installed_crds: ControlPlane, namespace: str) -> Iterator[Cluster]:
    """The test's namespace on the session's control plane, with a fault proxy for the reconciler."""
    with proxy_for(installed_crds) as proxy:
        yield Cluster(installed_crds, namespace, proxy)
