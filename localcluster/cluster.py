"""`LocalCluster`: the in-process API server as an async context manager.

    async with LocalCluster() as cluster:          # 127.0.0.1, a free port
        cluster.write_kubeconfig(tmp_path / "kubeconfig")
        cluster.faults.fail_next("create", "deployments", code=500)
        await cluster.restart()                    # same port, same objects, watches cut

The cluster owns the state (store, registry, operations, admission chain, background workers);
the aiohttp application is only the front door and is rebuilt on every (re)start, which is how a
restart keeps the objects but drops connections.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

from localcluster import kinds, kubeconfig, meta
from localcluster.admission import AdmissionChain
from localcluster.controllers import DeploymentController, TokenController
from localcluster.crds import third_party_crds
from localcluster.faults import Faults
from localcluster.gc import GarbageCollector
from localcluster.operations import Operations, Options, Target
from localcluster.registry import CRD_KEY, NAMESPACES_KEY, Registry, ResourceType
from localcluster.server import RequestRecord, ServerState, make_app
from localcluster.store import Store
from localcluster.watch import Watcher
from localcluster.workers import KeyedWorker

Manifest = dict[str, Any]
INITIAL_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


class LocalCluster:
    """An in-memory Kubernetes API server on 127.0.0.1 (plain HTTP, no authentication)."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        history_size: int = 10_000,
        bookmark_interval: float = 5.0,
        watch_buffer: int = 100_000,
        controllers: bool = False,
        deployment_delay: float = 0.0,
        service_hosts: Mapping[str, str] | None = None,
        third_party: bool = False,
        seed: int | None = None,
        record_requests: bool = False,
    ) -> None:
        self.host = host
        self.port = port
        self.registry = Registry()
        self.store = Store(history_size)
        self.admission = AdmissionChain(self.store, service_hosts)
        self.ops = Operations(self.registry, self.store, self.admission, seed=seed)
        self.faults = Faults(seed=seed or 0, close_watches_hook=self.close_watches)
        self.gc = GarbageCollector(self.ops)
        self.workers: list[KeyedWorker] = [self.gc]
        if controllers:
            self.workers += [DeploymentController(self.ops, deployment_delay), TokenController(self.ops)]
        self._bookmark_interval = bookmark_interval
        self._watch_buffer = watch_buffer
        self._third_party = third_party
        self.requests: list[RequestRecord] | None = [] if record_requests else None
        """With `record_requests`: every request received over HTTP, in order (kept across restarts)."""
        self._runner: web.AppRunner | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._seed_namespaces()

    # ----- lifecycle -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def __aenter__(self) -> LocalCluster:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        for worker in self.workers:
            worker.start()
        try:
            if self._third_party:
                for crd in third_party_crds():
                    await self.install_crd(crd)
            await self._serve()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        await self._shutdown()
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        for worker in self.workers:
            await worker.stop()
        await self.admission.close()

    async def restart(self, downtime: float = 0.0) -> None:
        """Stop serving (cutting every connection and watch), wait, serve again on the same port."""
        await self._shutdown()
        if downtime:
            await asyncio.sleep(downtime)
        await self._serve()

    async def _serve(self) -> None:
        state = ServerState(
            self.registry,
            self.store,
            self.ops,
            self.faults,
            self._bookmark_interval,
            self._watch_buffer,
            f"{self.host}:{self.port}",
            self._schedule_restart,
            self.requests,
        )
        runner = web.AppRunner(make_app(state), access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        if self.port == 0:
            self.port = int(runner.addresses[0][1])  # the port 0 became
        state.address = f"{self.host}:{self.port}"

    async def _shutdown(self) -> None:
        if self._runner is not None:
            self.close_watches()
            await self._runner.cleanup()
            self._runner = None

    async def _schedule_restart(self, downtime: float) -> None:
        # Restarting from inside a request would wait on that request; do it after the response.
        task = asyncio.get_running_loop().create_task(self._delayed_restart(downtime))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _delayed_restart(self, downtime: float) -> None:
        await asyncio.sleep(0.05)
        await self.restart(downtime)

    async def wait_restarts(self) -> None:
        """Wait for restarts requested over HTTP (`POST /_localcluster/restart`) to complete."""
        await asyncio.gather(*list(self._background))

    def close_watches(self) -> int:
        watchers = [w for w in self.store.subscribers() if isinstance(w, Watcher) and not w.closed]
        for watcher in watchers:
            watcher.close()
        return len(watchers)

    async def wait_idle(self) -> None:
        """Wait until the garbage collector and controllers have handled every queued change."""
        for _ in range(3):  # one worker's writes can queue work for another
            for worker in self.workers:
                await worker.wait_idle()

    # ----- helpers for tests and tools -----------------------------------------------------------

    def write_kubeconfig(self, path: str | Path, namespace: str = "default") -> Path:
        return kubeconfig.write(path, self.url, namespace=namespace)

    def resource(self, api_version: str, kind: str) -> ResourceType:
        rt = self.registry.for_api_version(api_version, kind)
        if rt is None:
            raise KeyError(f"no resource serves {kind} in {api_version}")
        return rt

    def get(self, api_version: str, kind: str, name: str, namespace: str = "") -> Manifest | None:
        """The stored object (read-only view, in the requested version), or None."""
        rt = self.resource(api_version, kind)
        obj = self.store.get(rt.key, namespace if rt.namespaced else "", name)
        if obj is None:
            return None
        return self.ops.out(Target(rt, api_version.rpartition("/")[2]), obj)

    def list(self, api_version: str, kind: str, namespace: str | None = None) -> list[Manifest]:
        rt = self.resource(api_version, kind)
        t = Target(rt, api_version.rpartition("/")[2])
        return [self.ops.out(t, o) for o in self.store.items(rt.key, namespace if rt.namespaced else None)]

    async def create(self, obj: Manifest, namespace: str | None = None, admission: bool = True) -> Manifest:
        """Create through the full pipeline (validation, admission); returns the stored object."""
        obj = meta.clone(obj)
        rt = self.resource(obj["apiVersion"], obj["kind"])
        ns = (namespace or obj.get("metadata", {}).get("namespace") or "default") if rt.namespaced else ""
        t = Target(rt, obj["apiVersion"].rpartition("/")[2], ns)
        result = await self.ops.create(t, obj, Options(admission=admission))
        return result.body

    async def install_crd(self, crd: Manifest) -> Manifest:
        existing = self.store.get(CRD_KEY, "", crd["metadata"]["name"])
        return existing if existing is not None else await self.create(crd, admission=False)

    def _seed_namespaces(self) -> None:
        now = meta.timestamp()
        rt = self.registry.require(NAMESPACES_KEY)
        for name in INITIAL_NAMESPACES:
            obj: Manifest = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
            kinds.apply_defaults(rt, obj, self.ops.cluster_ips)
            meta.before_create(rt, obj, now, self.ops.rng)
            self.store.put(NAMESPACES_KEY, obj)
