"""A real Kubernetes control plane on loopback: etcd, kube-apiserver, controller-manager, scheduler
and KWOK with fake nodes.

    with ControlPlane(work_dir) as cp:              # free ports only; logs under work_dir/logs
        cp.kubectl("get", "nodes")
        ns = cp.create_namespace("t-")              # its own namespace, default ServiceAccount ready
        cp.restart_apiserver()                      # same etcd, same port, every watch cut

What runs, and why this way:

- etcd without fsync (nothing here must survive a power cut) on two free ports.
- kube-apiserver with TLS only, client certificates and a static token file as authenticators,
  Node and RBAC authorizers, the default admission chain (which calls admission webhooks over
  TLS), and service-account token signing, as a production server runs.
- kube-controller-manager with the controllers a serving stack exercises (garbage collector,
  Deployments, ReplicaSets, namespaces, ServiceAccounts and their tokens, the root CA publisher,
  EndpointSlices, the HorizontalPodAutoscaler), each under its own ServiceAccount.
- kube-scheduler, unchanged.
- KWOK, which plays every kubelet: it keeps the fake nodes Ready and moves scheduled Pods through
  init containers to Running and Ready, using its published stages with shorter delays.
  A Pod annotated ``kwok.x-k8s.io/status=custom`` is left alone, so a test can write the status
  a kubelet would (image pull errors, crash loops) without KWOK overwriting it.

Every process is a `Child` that dies with its parent; `stop` ends them all by process id.
"""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
import shutil
import socket
import ssl
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from cryptography.hazmat.primitives import serialization

from certs import pki
from testbed.binaries import Binaries, ensure_binaries, kwok_stages
from testbed.processes import Child, TestbedError, deferred_signals, stop_all, wait_for

Manifest = dict[str, Any]

SERVICE_CLUSTER_IP_RANGE = "10.96.0.0/16"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
ADMIN_USER = "testbed-admin"
KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"
KWOK_CUSTOM_STATUS_ANNOTATION = "kwok.x-k8s.io/status"
"""``kwok.x-k8s.io/status: custom`` on a Pod: KWOK leaves its status to the test."""
START_TIMEOUT = 90.0
STOP_GRACE = 2.0

CONTROLLERS = (
    "garbage-collector-controller",
    "deployment-controller",
    "replicaset-controller",
    "namespace-controller",
    "serviceaccount-controller",
    "serviceaccount-token-controller",
    "root-ca-certificate-publisher-controller",
    "endpointslice-controller",
    "horizontal-pod-autoscaler-controller",
    "disruption-controller",
    "job-controller",
    "clusterrole-aggregation-controller",
    "pod-garbage-collector-controller",
    # Removes the not-ready taint that admission puts on every new node once KWOK reports it Ready.
    "node-lifecycle-controller",
)
"""What a serving stack's tests exercise; the rest (volumes, node IPAM, cloud) only cost CPU."""


@dataclass(frozen=True)
class NodeSpec:
    """One fake node: its name, capacity (allocatable equals capacity) and labels."""

    name: str
    capacity: Mapping[str, str]
    labels: Mapping[str, str] = field(default_factory=dict)


NVIDIA_LABELS = {
    "nvidia.com/gpu.present": "true",
    "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3",
    "nvidia.com/gpu.count": "8",
}
"""What NVIDIA's GPU feature discovery puts on such a node; models select on the product."""
GPU_NODE = {"cpu": "64", "memory": "1Ti", "pods": "110"}

DEFAULT_NODES = (
    *(NodeSpec(f"gpu-nvidia-{i}", {**GPU_NODE, "nvidia.com/gpu": "8"}, NVIDIA_LABELS) for i in range(4)),
    NodeSpec("gpu-amd-0", {**GPU_NODE, "amd.com/gpu": "8"}, {"amd.com/gpu.present": "true"}),
    NodeSpec("cpu-0", {"cpu": "32", "memory": "128Gi", "pods": "110"}),
)
"""Four NVIDIA nodes and one AMD node with eight accelerators each, and a CPU-only node."""


@dataclass(frozen=True)
class Options:
    """What to run. The defaults are the full control plane with `DEFAULT_NODES`."""

    nodes: Sequence[NodeSpec] = DEFAULT_NODES
    controller_manager: bool = True
    scheduler: bool = True
    kwok: bool = True
    stage_delay_ms: int = 100
    """Each KWOK lifecycle step (Pod created, init containers done, Ready) takes this long."""
    stage_jitter_ms: int = 200
    extra_apiserver_args: Sequence[str] = ()
    crds: Sequence[Manifest] = ()
    """Installed before the controller-manager starts, so its garbage collector knows their kinds
    from the first moment (it looks for new kinds only every 30 seconds)."""


def free_port() -> int:
    """A port nothing listens on right now (the program binds it moments later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class ApiError(TestbedError):
    """The API server answered a request of the control plane's own with an error status."""

    def __init__(self, code: int, body: Manifest, what: str) -> None:
        super().__init__(f"{what}: {code} {body.get('reason', '')}: {body.get('message', body)}")
        self.code = code
        self.body = body


class ControlPlane:
    """The processes, their certificates and kubeconfigs, and a few administrative operations."""

    def __init__(
        self, work_dir: Path, binaries: Binaries | None = None, options: Options = Options()
    ) -> None:
        self.work_dir = work_dir
        self.options = options
        self._binaries = binaries
        self.pki_dir = work_dir / "pki"
        self.log_dir = work_dir / "logs"
        self.children: dict[str, Child] = {}
        self.etcd_port = 0
        self.port = 0
        self._tokens: dict[str, str] = {}
        self._context: ssl.SSLContext | None = None
        self._namespaces = 0

    # ----- lifecycle -----------------------------------------------------------------------------

    @property
    def binaries(self) -> Binaries:
        if self._binaries is None:
            self._binaries = ensure_binaries()
        return self._binaries

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def ca_file(self) -> Path:
        return self.pki_dir / "ca.crt"

    @property
    def kubeconfig(self) -> Path:
        """The administrator's kubeconfig (client certificate, group system:masters)."""
        return self.work_dir / "admin.kubeconfig"

    def __enter__(self) -> ControlPlane:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Everything: `start_api` and then `start_workers`."""
        self.start_api()
        self.start_workers()

    def start_api(self) -> None:
        """Certificates, etcd, kube-apiserver and the CRDs of `Options.crds`; no controllers yet.

        The demo installs the operator's CRD between the two halves, as an administrator installs
        it before anything depends on it; the garbage collector then knows its kind from the start.
        """
        try:
            # Always a new cluster: etcd data left by an earlier run in the same folder would
            # bring back its nodes and namespaces.
            shutil.rmtree(self.work_dir / "etcd", ignore_errors=True)
            self._write_pki()
            self.start_etcd()
            self.start_apiserver()
            self._write_kubeconfigs()
            self.install_crds(self.options.crds)
        except BaseException:
            self.stop()
            raise

    def start_workers(self) -> None:
        """The controller-manager, the scheduler and KWOK with its Ready fake nodes."""
        try:
            if self.options.controller_manager:
                self._start_controller_manager()
            if self.options.scheduler:
                self._start_scheduler()
            if self.options.kwok:
                self._start_kwok()
                for node in self.options.nodes:
                    self.create_node(node)
                for node in self.options.nodes:
                    self.wait_node_ready(node.name)
            if self.options.controller_manager:
                self.wait_default_service_account("default")
        except BaseException:
            self.stop()
            raise

    def stop(self, grace: float = STOP_GRACE) -> None:
        """Stop every process by its id, newest first; logs stay in `log_dir`. Nothing here is
        worth a long drain: what has not ended after `grace` seconds is killed."""
        # etcd goes last: an API server whose store vanished mid-shutdown waits for it in vain.
        stop_all([c for n, c in reversed(self.children.items()) if n != "etcd"], grace)
        stop_all([c for n, c in self.children.items() if n == "etcd"], grace)

    def _child(self, name: str, argv: Sequence[str]) -> Child:
        with deferred_signals():
            child = Child(name, argv, self.log_dir / f"{name}.log", cwd=self.work_dir)
            self.children[name] = child
        return child

    def logs(self, lines: int = 20) -> str:
        """The last lines of every process's log, for a failure report."""
        return "\n".join(f"--- {n} (pid {c.pid}) ---\n{c.tail(lines)}" for n, c in self.children.items())

    # ----- certificates and credentials -----------------------------------------------------------

    def _write_pki(self) -> None:
        self.pki_dir.mkdir(parents=True, exist_ok=True)
        ca = pki.create_ca("testbed-ca")
        serving = pki.issue_serving_cert(
            ca,
            ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"],
            ["127.0.0.1", "10.96.0.1"],
        )
        admin = pki.issue_client_cert(ca, ADMIN_USER, ["system:masters"])
        sa_key = pki.generate_key("rsa-2048")
        files = {
            "ca.crt": ca.cert_pem,
            "ca.key": ca.key_pem,
            "apiserver.crt": serving.cert_pem,
            "apiserver.key": serving.key_pem,
            "admin.crt": admin.cert_pem,
            "admin.key": admin.key_pem,
            "sa.key": _private_pem(sa_key),
            "sa.pub": _public_pem(sa_key),
        }
        for name, data in files.items():
            (self.pki_dir / name).write_bytes(data)
        # The static token file: one user per component, so RBAC judges each as in a real cluster.
        self._tokens = {
            "kube-controller-manager": secrets.token_hex(16),
            "kube-scheduler": secrets.token_hex(16),
            "kwok": secrets.token_hex(16),
            ADMIN_USER: secrets.token_hex(16),
        }
        users = {
            "kube-controller-manager": ("system:kube-controller-manager", ""),
            "kube-scheduler": ("system:kube-scheduler", ""),
            # KWOK writes node and pod status for every node it plays; the Node authorizer only
            # lets a kubelet touch its own node, so KWOK runs as an administrator, as kwokctl does.
            "kwok": ("kwok-controller", "system:masters"),
            ADMIN_USER: (ADMIN_USER, "system:masters"),
        }
        lines = [f'{self._tokens[k]},{user},{user},"{group}"' for k, (user, group) in users.items()]
        (self.pki_dir / "tokens.csv").write_text("\n".join(lines) + "\n")

    @property
    def admin_token(self) -> str:
        """A bearer token of the administrator (from the static token file)."""
        return self._tokens[ADMIN_USER]

    def ssl_context(self) -> ssl.SSLContext:
        """Trusts the cluster CA and presents the administrator's client certificate."""
        if self._context is None:
            context = ssl.create_default_context(cafile=str(self.ca_file))
            context.load_cert_chain(self.pki_dir / "admin.crt", self.pki_dir / "admin.key")
            self._context = context
        return self._context

    def _write_kubeconfigs(self) -> None:
        ca = str(self.ca_file)
        write_kubeconfig(
            self.kubeconfig,
            self.url,
            ca,
            {
                "client-certificate": str(self.pki_dir / "admin.crt"),
                "client-key": str(self.pki_dir / "admin.key"),
            },
        )
        for component in ("kube-controller-manager", "kube-scheduler", "kwok"):
            write_kubeconfig(
                self._component_kubeconfig(component), self.url, ca, {"token": self._tokens[component]}
            )

    def _component_kubeconfig(self, component: str) -> Path:
        return self.work_dir / f"{component}.kubeconfig"

    def service_account_token(self, namespace: str, name: str, expiration_seconds: int = 86_400) -> str:
        """A fresh bound token of ServiceAccount `namespace/name` (the TokenRequest API)."""
        answer = self.api(
            "POST",
            f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
            {
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenRequest",
                "spec": {"expirationSeconds": expiration_seconds},
            },
        )
        token: str = answer["status"]["token"]
        return token

    def service_account_kubeconfig(
        self, namespace: str, name: str, path: Path, expiration_seconds: int = 86_400
    ) -> Path:
        """A kubeconfig with a fresh bound token of ServiceAccount `namespace/name`."""
        token = self.service_account_token(namespace, name, expiration_seconds)
        return write_kubeconfig(path, self.url, str(self.ca_file), {"token": token})

    # ----- the processes ---------------------------------------------------------------------------

    def start_etcd(self) -> None:
        if not self.etcd_port:
            self.etcd_port = free_port()
        peer = free_port()
        data = self.work_dir / "etcd"
        client_url = f"http://127.0.0.1:{self.etcd_port}"
        self._child(
            "etcd",
            [
                str(self.binaries.etcd),
                f"--data-dir={data}",
                f"--listen-client-urls={client_url}",
                f"--advertise-client-urls={client_url}",
                f"--listen-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-cluster=default=http://127.0.0.1:{peer}",
                # Test data need not survive a power cut; without fsync a write costs microseconds.
                "--unsafe-no-fsync",
                "--log-level=warn",
                "--listen-metrics-urls=",
            ],
        )
        self._wait_healthy("etcd", "/health", self._etcd_healthy)

    def _wait_healthy(self, name: str, endpoint: str, healthy: Callable[[], bool]) -> None:
        """Until `healthy()`; fails at once if the process exits, with its last log lines."""

        def check() -> bool | None:
            self.children[name].ensure_alive()
            try:
                return healthy() or None
            except (OSError, ValueError):
                return None

        explain = self.children[name].tail
        wait_for(check, timeout=START_TIMEOUT, what=f"{name} to answer {endpoint}", explain=explain)

    def _etcd_healthy(self) -> bool:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.etcd_port}/health", timeout=1) as r:
            return bool(json.load(r).get("health") == "true")

    def start_apiserver(self) -> None:
        """Start kube-apiserver (on the port it had, after a stop) and wait until /readyz says ok."""
        if not self.port:
            self.port = free_port()
        p = self.pki_dir
        self._child(
            "kube-apiserver",
            [
                str(self.binaries.kube_apiserver),
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={self.port}",
                f"--etcd-servers=http://127.0.0.1:{self.etcd_port}",
                f"--tls-cert-file={p / 'apiserver.crt'}",
                f"--tls-private-key-file={p / 'apiserver.key'}",
                f"--client-ca-file={p / 'ca.crt'}",
                f"--token-auth-file={p / 'tokens.csv'}",
                # Published so the scheduler and controller-manager can delegate authentication
                # without logging an error each second; no front proxy ever uses it.
                f"--requestheader-client-ca-file={p / 'ca.crt'}",
                "--requestheader-allowed-names=front-proxy-client",
                "--requestheader-username-headers=X-Remote-User",
                "--requestheader-group-headers=X-Remote-Group",
                "--requestheader-extra-headers-prefix=X-Remote-Extra-",
                "--authorization-mode=Node,RBAC",
                # Added to the default chain, as hardened clusters run it: an owner reference that
                # blocks the owner's deletion needs `update` on the owner's finalizers.
                "--enable-admission-plugins=OwnerReferencesPermissionEnforcement",
                f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
                f"--service-account-key-file={p / 'sa.pub'}",
                f"--service-account-signing-key-file={p / 'sa.key'}",
                f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
                "--allow-privileged=true",
                # No kubelets: the API server never dials nodes, and nothing routes to 127.0.0.1
                # endpoints (Endpoints may not name loopback addresses).
                "--endpoint-reconciler-type=none",
                "--profiling=false",
                *self.options.extra_apiserver_args,
            ],
        )
        self._wait_healthy(
            "kube-apiserver", "/readyz", lambda: self._request("GET", "/readyz", None, timeout=2)[0] == 200
        )

    def stop_apiserver(self, kill: bool = False) -> None:
        child = self.children["kube-apiserver"]
        child.kill() if kill else child.stop()

    def restart_apiserver(self, kill: bool = False) -> None:
        """Stop (or SIGKILL) kube-apiserver and start it again on the same port and etcd."""
        self.stop_apiserver(kill)
        self.start_apiserver()

    def _component_args(self, component: str) -> list[str]:
        """What kube-controller-manager and kube-scheduler share: their credentials (also for
        delegated authentication and authorization of their own endpoints), a free port, no
        leader election (one of each runs), and client limits raised from the defaults (20 and 50
        requests/s), which would make a thousand Deployments wait minutes for ReplicaSets and pods;
        large clusters raise them too."""
        kubeconfig = self._component_kubeconfig(component)
        return [
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            "--bind-address=127.0.0.1",
            f"--secure-port={free_port()}",
            "--leader-elect=false",
            "--kube-api-qps=300",
            "--kube-api-burst=600",
        ]

    def _start_controller_manager(self) -> None:
        self._child(
            "kube-controller-manager",
            [
                str(self.binaries.kube_controller_manager),
                *self._component_args("kube-controller-manager"),
                "--use-service-account-credentials=true",
                f"--service-account-private-key-file={self.pki_dir / 'sa.key'}",
                f"--root-ca-file={self.ca_file}",
                f"--controllers={','.join(CONTROLLERS)}",
                # The HPA controller reads metrics every 15 s by default; tests wait less.
                "--horizontal-pod-autoscaler-sync-period=2s",
                "--concurrent-gc-syncs=5",
            ],
        )

    def _start_scheduler(self) -> None:
        self._child(
            "kube-scheduler",
            [str(self.binaries.kube_scheduler), *self._component_args("kube-scheduler")],
        )

    def _start_kwok(self) -> None:
        config = self.work_dir / "kwok.yaml"
        config.write_text(
            kwok_config(kwok_stages(self.binaries), self.options.stage_delay_ms, self.options.stage_jitter_ms)
        )
        self._child(
            "kwok",
            [
                str(self.binaries.kwok),
                f"--kubeconfig={self._component_kubeconfig('kwok')}",
                f"--config={config}",
                f"--manage-nodes-with-annotation-selector={KWOK_NODE_ANNOTATION}=fake",
                f"--disregard-status-with-annotation-selector={KWOK_CUSTOM_STATUS_ANNOTATION}=custom",
                f"--server-address=127.0.0.1:{free_port()}",
                "--node-lease-duration-seconds=40",
                "--cidr=10.244.0.0/16",
                "--node-ip=10.240.0.1",
            ],
        )

    # ----- custom resources, nodes and namespaces -----------------------------------------------------

    def install_crds(self, crds: Sequence[Manifest], timeout: float = START_TIMEOUT) -> None:
        """Create each CRD unless it exists, then wait until every one is Established."""
        for crd in crds:
            try:
                self.api("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
            except ApiError as e:
                if e.code != 409:
                    raise
        for crd in crds:
            name = crd["metadata"]["name"]
            wait_for(
                lambda name=name: self._established(name),  # type: ignore[misc]
                timeout=timeout,
                what=f"CRD {name} to be Established",
            )

    def _established(self, name: str) -> bool | None:
        crd = self.api("GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
        conditions = crd.get("status", {}).get("conditions") or []
        return any(c["type"] == "Established" and c["status"] == "True" for c in conditions) or None

    def create_node(self, node: NodeSpec) -> None:
        capacity = dict(node.capacity)
        self.api(
            "POST",
            "/api/v1/nodes",
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": node.name,
                    "annotations": {KWOK_NODE_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
                    "labels": {
                        "kubernetes.io/hostname": node.name,
                        "kubernetes.io/os": "linux",
                        "kubernetes.io/arch": "amd64",
                        "type": "kwok",
                        **node.labels,
                    },
                },
                "status": {"capacity": capacity, "allocatable": capacity},
            },
        )

    def wait_node_ready(self, name: str, timeout: float = START_TIMEOUT) -> None:
        def ready() -> bool | None:
            node = self.api("GET", f"/api/v1/nodes/{name}")
            conditions = node.get("status", {}).get("conditions") or []
            is_ready = any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
            # Admission taints every new node not-ready; the node lifecycle controller lifts it.
            tainted = any(
                t["key"] == "node.kubernetes.io/not-ready" for t in node["spec"].get("taints") or ()
            )
            return (is_ready and not tainted) or None

        wait_for(
            ready,
            timeout=timeout,
            what=f"node {name} to become Ready and schedulable",
            explain=lambda: self.logs(5),
        )

    def create_namespace(self, prefix: str = "test-", labels: Mapping[str, str] | None = None) -> str:
        """A new namespace named `prefix` plus a counter and a random part; returns its name once its
        default ServiceAccount exists (Pods of a Deployment need it)."""
        self._namespaces += 1
        name = f"{prefix}{self._namespaces}-{secrets.token_hex(3)}"
        meta: Manifest = {"name": name, "labels": dict(labels or {})}
        self.api("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": meta})
        if self.options.controller_manager:
            self.wait_default_service_account(name)
        return name

    def wait_default_service_account(self, namespace: str, timeout: float = START_TIMEOUT) -> None:
        def exists() -> bool | None:
            try:
                self.api("GET", f"/api/v1/namespaces/{namespace}/serviceaccounts/default")
            except ApiError as e:
                if e.code == 404:
                    return None
                raise
            return True

        wait_for(exists, timeout=timeout, what=f"the default ServiceAccount in {namespace}")

    def delete_namespace(self, name: str) -> None:
        with contextlib.suppress(ApiError):
            self.api("DELETE", f"/api/v1/namespaces/{name}")

    # ----- requests ----------------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        body: Manifest | None,
        *,
        timeout: float = 30,
        content_type: str = "application/json",
    ) -> tuple[int, bytes]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=timeout, context=self.ssl_context()) as response:
                return int(response.status), response.read()
        except urllib.error.HTTPError as e:
            return int(e.code), e.read()

    def api(
        self, method: str, path: str, body: Manifest | None = None, *, content_type: str = "application/json"
    ) -> Manifest:
        """One request as the administrator; the decoded answer, or `ApiError`."""
        code, raw = self._request(method, path, body, content_type=content_type)
        try:
            answer: Manifest = json.loads(raw) if raw else {}
        except ValueError:
            answer = {"message": raw.decode(errors="replace")}
        if code >= 400:
            raise ApiError(code, answer, f"{method} {path}")
        return answer

    def kubectl(
        self, *args: str, stdin: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """The built kubectl with the administrator's kubeconfig."""
        argv = [str(self.binaries.kubectl), f"--kubeconfig={self.kubeconfig}", *args]
        result = subprocess.run(
            argv, input=stdin, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and result.returncode != 0:
            raise TestbedError(
                f"kubectl {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}"
            )
        return result

    # ----- etcd ---------------------------------------------------------------------------------------

    def etcd_revision(self) -> int:
        """The store's current revision (etcd's JSON gateway, as etcdctl would ask over gRPC)."""
        answer = self._etcd("/v3/kv/range", {"key": base64.b64encode(b"/").decode(), "limit": 1})
        return int(answer["header"]["revision"])

    def compact_etcd(self) -> int:
        """Compact etcd's history up to now, so a watch from an older resourceVersion gets 410."""
        revision = self.etcd_revision()
        self._etcd("/v3/kv/compaction", {"revision": str(revision), "physical": True})
        return revision

    def _etcd(self, path: str, body: Manifest) -> Manifest:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.etcd_port}{path}", data=json.dumps(body).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            answer: Manifest = json.load(response)
            return answer


def write_kubeconfig(path: Path, server: str, ca_file: str, user: Mapping[str, str]) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "testbed", "cluster": {"server": server, "certificate-authority": ca_file}}],
        "users": [{"name": "testbed", "user": dict(user)}],
        "contexts": [{"name": "testbed", "context": {"cluster": "testbed", "user": "testbed"}}],
        "current-context": "testbed",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path


def kwok_config(stage_files: Sequence[Path], delay_ms: int, jitter_ms: int) -> str:
    """KWOK's stages with every delay replaced by `delay_ms` plus up to `jitter_ms`.

    The published ones wait a second plus up to five per step, which would make each test wait a
    minute, and remove a deleted Pod at a random moment before its grace period ends (up to 30 s
    and more), as if no container ever exited on SIGTERM; here Pods go as promptly as they come.
    """
    documents: list[Manifest] = []
    for path in stage_files:
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc:
                continue
            delay = doc.get("spec", {}).get("delay")
            if delay is not None:
                delay["durationMilliseconds"] = delay_ms
                delay["jitterDurationMilliseconds"] = jitter_ms
                jitter_from = delay.get("jitterDurationFrom") or {}
                if jitter_from.get("expressionFrom") == ".metadata.deletionTimestamp":
                    del delay["jitterDurationFrom"]
            documents.append(doc)
    return yaml.safe_dump_all(documents, sort_keys=False)


def _private_pem(key: pki.PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _public_pem(key: pki.PrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
