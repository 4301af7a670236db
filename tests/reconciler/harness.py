"""Running a reconciler in-process against the real control plane, and waiting for the world to change.

``running_reconciler`` starts a ``Manager`` (short periods, real HTTP through the test's fault
proxy to the API server, watching only the test's namespace) and yields a handle; leaving the
block stops it gracefully. ``wait_for`` polls a predicate with a bound: tests wait for a state,
never for a fixed time.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from reconciler.manager import Manager, ManagerOptions
from reconciler.runtime.client import Client, Resource
from shared.settings import OperatorSettings
from tests.support.cluster import Cluster

MS_API = "model.otterscale.io/v1alpha1"
Manifest = dict[str, Any]

FAST = ManagerOptions(workers=2, resync_period=60.0, discovery_period=0.2, watch_timeout=60, instance="test")


async def wait_for(predicate: Callable[[], Any], timeout: float = 5.0, message: str = "") -> Any:
    """Poll ``predicate`` (sync or async) until it returns something truthy; that value is returned."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                value = predicate()
                if inspect.isawaitable(value):
                    value = await value
                if value:
                    return value
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout}s waiting for {message or predicate}") from None


def model_service(name: str = "qwen", namespace: str | None = None, **spec: Any) -> Manifest:
    """A valid ModelService manifest; keyword arguments replace top-level spec fields. Without a
    namespace, `Cluster.create` puts it in the test's."""
    base: Manifest = {
        "model": {"name": "Qwen/Qwen3-0.6B", "image": "registry.example.com/models/qwen3:0.6b"},
        "engine": {},
        "accelerator": {"type": "nvidia"},
        "decode": {"replicas": 1},
    }
    base.update(spec)
    metadata = {"name": name} if namespace is None else {"name": name, "namespace": namespace}
    return {"apiVersion": MS_API, "kind": "ModelService", "metadata": metadata, "spec": base}


@dataclass
class Running:
    """A reconciler running in the test's event loop."""

    manager: Manager
    client: Client
    task: asyncio.Task[None]
    marks: list[Counter[tuple[str, int]]] = field(default_factory=list)

    def mark(self) -> None:
        """Remember the request counts, for ``since_mark``."""
        self.marks.append(Counter(self.client.requests))

    def since_mark(self) -> dict[tuple[str, int], int]:
        before = self.marks[-1]
        return {k: v - before[k] for k, v in self.client.requests.items() if v != before[k]}

    async def idle(self, timeout: float = 5.0) -> None:
        """Until nothing is queued or being reconciled."""
        await wait_for(lambda: self.manager.queue.busy == 0, timeout, "an idle work queue")

    async def resync(self, timeout: float = 5.0) -> None:
        """Reconcile every ModelService once more and wait until that is done."""
        await self.idle(timeout)
        target = self.manager.controller.reconciles + len(self.manager.cache.keys())
        self.manager.enqueue_all()
        await wait_for(lambda: self.manager.controller.reconciles >= target, timeout, "the resync")
        await self.idle(timeout)


@asynccontextmanager
async def running_reconciler(
    cluster: Cluster,
    settings: OperatorSettings | None = None,
    options: ManagerOptions = FAST,
    *,
    wait_leading: bool = True,
    **overrides: Any,
) -> AsyncIterator[Running]:
    """A reconciler watching the test's namespace (unless `namespaces` says otherwise)."""
    client = Client(cluster.client_config())
    overrides.setdefault("namespaces", options.namespaces or (cluster.namespace,))
    manager = Manager(client, settings or OperatorSettings(), replace(options, **overrides))
    task = asyncio.create_task(manager.run(), name="reconciler under test")
    running = Running(manager, client, task)
    try:
        await wait_for(lambda: manager.synced or task.done(), 10, "caches to sync")
        if wait_leading:
            await wait_for(lambda: manager.elector is None or manager.elector.is_leader, 10, "leadership")
        yield running
    finally:
        if not task.done():
            manager.stop()
            try:
                async with asyncio.timeout(10):
                    await asyncio.gather(task, return_exceptions=True)
            finally:
                task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await client.close()


def get(
    cluster: Cluster, kind: str, name: str, api_version: str = MS_API, namespace: str | None = None
) -> Manifest | None:
    return cluster.get(api_version, kind, name, namespace)


def condition(obj: Manifest | None, kind: str) -> Manifest:
    conditions = ((obj or {}).get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c.get("type") == kind), {})


def clone(obj: Manifest) -> Manifest:
    return copy.deepcopy(obj)


MODELSERVICES = Resource("model.otterscale.io", "v1alpha1", "ModelService", "modelservices", True)
DEPLOYMENTS = Resource("apps", "v1", "Deployment", "deployments", True)
CONFIGMAPS = Resource("", "v1", "ConfigMap", "configmaps", True)
SERVICES = Resource("", "v1", "Service", "services", True)
CLUSTERROLES = Resource("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False)
CLUSTERROLEBINDINGS = Resource(
    "rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False
)
DESTINATIONRULES = Resource("networking.istio.io", "v1beta1", "DestinationRule", "destinationrules", True)
PODMONITORS = Resource("monitoring.coreos.com", "v1", "PodMonitor", "podmonitors", True)
