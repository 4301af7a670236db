"""Fixtures of the reconciler tests: the test's view of the real control plane and a direct client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from reconciler.runtime.client import Client
from testbed import ControlPlane
from testbed.controlplane import Options
from tests.reconciler.kubelet import Kubelet
from tests.support.cluster import Cluster, modelservice_crd, proxy_for


@pytest.fixture
def bare_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A control plane of the test's own with only the ModelService CRD: the third-party kinds
    (InferencePool, HTTPRoute, DestinationRule, monitors) are not served until the test installs them."""
    work_dir: Path = tmp_path_factory.mktemp("bare-controlplane")
    with ControlPlane(work_dir, options=Options(crds=[modelservice_crd()])) as cp:
        namespace = cp.create_namespace("bare-")
        with proxy_for(cp) as proxy:
            yield Cluster(cp, namespace, proxy)


@pytest.fixture
async def kube(cluster: Cluster) -> AsyncIterator[Client]:
    """A client for the test's own reads and writes (not the reconciler's): no fault proxy, and a
    User-Agent of its own, so the API server records its writes under a field manager of their own."""
    async with Client(cluster.direct_config(user_agent="test-client")) as client:
        yield client


@pytest.fixture
async def kubelet(cluster: Cluster) -> AsyncIterator[Kubelet]:
    """Writes kubelet-like statuses onto the test's pods annotated ``CUSTOM``; removes them after."""
    fake = Kubelet(cluster)
    try:
        yield fake
    finally:
        await fake.close()
