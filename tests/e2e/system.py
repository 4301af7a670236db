"""The whole system for end-to-end tests: the demo's topology, with a Service stand-in in front.

Same processes as `make demo` (a real control plane with fake GPU nodes, webhook replicas,
reconciler replicas, the real CRD and webhook configurations installed with kubectl), except
that the API server reaches the webhook through `ServiceProxy`, so replicas can be added, killed
and replaced while the webhook configurations keep naming one address.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from demo import topology, views
from demo.kube import Kube, Manifest
from demo.kubectl import Kubectl, Result
from demo.processes import REPO_ROOT, Supervisor
from demo.waiting import wait_for
from shared import api
from tests.e2e.service_proxy import ServiceProxy

NAMESPACE = "e2e"
WAIT_SECONDS = 30.0


def example(file: str, name: str, **spec_changes: Any) -> Manifest:
    """An example from `examples/`, renamed into the test namespace, with top-level spec changes."""
    obj: Manifest = yaml.safe_load((REPO_ROOT / "examples" / file).read_text())
    obj["metadata"] = {"name": name, "namespace": NAMESPACE}
    obj["spec"].update(copy.deepcopy(spec_changes))
    return obj


@dataclass
class System:
    """Handles on every running part, and the few operations the tests repeat."""

    work_dir: Path
    supervisor: Supervisor
    certs: topology.CertFiles
    proxy: ServiceProxy
    cluster: topology.Cluster
    kubectl: Kubectl
    kube: Kube
    webhook_args: tuple[str, ...] = ()
    webhooks: list[topology.Webhook] = field(default_factory=list)
    reconcilers: list[topology.Reconciler] = field(default_factory=list)

    # ----- webhook replicas behind the Service -----------------------------------------------------

    def add_webhook(self, name: str) -> topology.Webhook:
        webhook = topology.Webhook.start(self.supervisor, self.certs, name, self.webhook_args).wait_ready()
        self.webhooks.append(webhook)
        self.update_endpoints()
        return webhook

    def update_endpoints(self) -> None:
        """Route the Service to the live replicas (as the endpoints controller would)."""
        self.proxy.set_backends([w.address for w in self.webhooks if w.child.alive()])

    # ----- objects -----------------------------------------------------------------------------------

    def apply(self, obj: Manifest, *flags: str) -> Result:
        return self.kubectl("apply", "-f", "-", *flags, stdin=yaml.safe_dump(obj))

    def get(self, name: str) -> Manifest | None:
        return self.kube.get(api.API_VERSION, api.KIND, name, NAMESPACE)

    def children(self, name: str) -> list[Manifest]:
        return views.children_of(self.kube, NAMESPACE, name)

    def get_child(
        self, api_version: str, kind: str, name: str, namespace: str | None = NAMESPACE
    ) -> Manifest | None:
        return self.kube.get(api_version, kind, name, namespace)

    def wait_ready(self, name: str, timeout: float = WAIT_SECONDS) -> Manifest:
        """The ModelService once its Ready condition is True for its current generation."""
        last: list[Manifest | None] = [None]

        def check() -> Manifest | None:
            obj = last[0] = self.get(name)
            return obj if obj is not None and is_ready(obj) else None

        return wait_for(
            check,
            timeout=timeout,
            what=f"ModelService {name} to become Ready",
            explain=lambda: _status(last[0]),
        )


def is_ready(obj: Manifest) -> bool:
    status: Manifest = obj.get("status") or {}
    ready: Manifest = next((c for c in status.get("conditions") or () if c.get("type") == "Ready"), {})
    current = status.get("observedGeneration") == obj["metadata"].get("generation")
    return bool(current and ready.get("status") == "True" and status.get("phase") == "Ready")


def _status(obj: Manifest | None) -> str:
    if obj is None:
        return "not found"
    return yaml.safe_dump(obj.get("status") or {}, default_flow_style=True, width=10_000).strip()


@contextmanager
def running_system(
    work_dir: Path,
    *,
    webhooks: int = 1,
    reconcilers: int = 1,
    webhook_args: Sequence[str] = (),
    reconciler_args: Sequence[str] = (),
) -> Iterator[System]:
    """Start everything (in parallel where possible), yield, then stop everything whatever happened."""
    supervisor = Supervisor(work_dir / "logs")
    proxy = ServiceProxy().start()
    kube: Kube | None = None
    try:
        certs = topology.create_certs(work_dir / "certs")
        replicas = [
            topology.Webhook.start(supervisor, certs, f"webhook-{i}", webhook_args) for i in range(webhooks)
        ]
        cluster = topology.Cluster.start(supervisor, work_dir / "cluster", pod_delay=0.05)
        for webhook in replicas:
            webhook.wait_ready()
        kubectl = Kubectl(cluster.kubeconfig, work_dir / "kube-cache", cwd=REPO_ROOT)
        topology.install(kubectl, certs, work_dir, proxy.address)
        cluster.start_workers()
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
        kubectl("apply", "-f", "-", stdin=yaml.safe_dump(namespace)).check()
        election = reconcilers > 1
        started = [
            topology.Reconciler.start(
                supervisor, cluster.kubeconfig, f"reconciler-{i}", election, reconciler_args
            )
            for i in range(reconcilers)
        ]
        for reconciler in started:
            reconciler.wait_ready()
        kube = Kube(cluster.kubeconfig, work_dir / "client-cache")
        system = System(
            work_dir, supervisor, certs, proxy, cluster, kubectl, kube, tuple(webhook_args), replicas, started
        )
        system.update_endpoints()
        yield system
    finally:
        if kube is not None:
            kube.close()
        supervisor.stop_all()
        proxy.stop()
