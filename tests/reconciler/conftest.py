"""Fixtures of the reconciler tests: a local cluster with the ModelService CRD and the test namespace."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from localcluster.cluster import LocalCluster
from reconciler.kube import Client, ClientConfig
from tests.reconciler.harness import prepared_cluster


@pytest.fixture
async def cluster() -> AsyncIterator[LocalCluster]:
    """Simulated Deployment controller and third-party CRDs on; the ModelService CRD installed."""
    async with LocalCluster(
        controllers=True, third_party=True, deployment_delay=0.05, bookmark_interval=0.5
    ) as c:
        yield await prepared_cluster(c)


@pytest.fixture
async def bare_cluster() -> AsyncIterator[LocalCluster]:
    """No third-party CRDs (InferencePool, HTTPRoute, DestinationRule, monitors are not served)."""
    async with LocalCluster(
        controllers=True, third_party=False, deployment_delay=0.05, bookmark_interval=0.5
    ) as c:
        yield await prepared_cluster(c)


@pytest.fixture
async def kube(cluster: LocalCluster) -> AsyncIterator[Client]:
    """A client for the test's own reads and writes (not the reconciler's)."""
    async with Client(ClientConfig(host=cluster.url, qps=1000, burst=1000)) as client:
        yield client
