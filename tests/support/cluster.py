"""One test's view of the session's real control plane: its own namespace, a fault proxy, admin reads.

The reconciler under test connects through `Cluster.url` (the fault proxy, plain HTTP on
127.0.0.1, the administrator's bearer token); the test's own client (`direct_config`) goes
straight to the API server over TLS, so injected faults never hit the test's checks. `get` and
`list` are synchronous reads for polling predicates; writes are coroutines that run the request
in a thread, so an admission webhook served on the test's own event loop can still answer.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from pathlib import Path
from typing import Any

import yaml

from reconciler.apply import USER_AGENT
from reconciler.runtime.client import ClientConfig
from testbed import ControlPlane
from testbed.controlplane import ApiError
from testbed.faults import FaultProxy

Manifest = dict[str, Any]
REPO = Path(__file__).resolve().parents[2]
MODELSERVICE_CRD = REPO / "manifests" / "crd" / "model.otterscale.io_modelservices.yaml"
UPSTREAM_CRD_FILES = (
    "inference.networking.k8s.io_inferencepools.yaml",
    "inference.networking.x-k8s.io_inferenceobjectives.yaml",
    "gateway.networking.k8s.io_httproutes.yaml",
    "networking.istio.io_destinationrules.yaml",
    "monitoring.coreos.com_podmonitors.yaml",
    "monitoring.coreos.com_servicemonitors.yaml",
)


def modelservice_crd() -> Manifest:
    """The operator's own CRD, as `manifests/` ships it."""
    crd: Manifest = yaml.safe_load(MODELSERVICE_CRD.read_text())
    return crd


def proxy_for(cp: ControlPlane) -> FaultProxy:
    """A fault proxy in front of `cp` that trusts its CA (use as a context manager)."""
    return FaultProxy(cp.url, ssl.create_default_context(cafile=str(cp.ca_file)))


def keda_crd() -> Manifest:
    """A stand-in for KEDA's ScaledObject CRD with KEDA's documented fields (not KEDA's own file)."""
    crd: Manifest = yaml.safe_load(
        (REPO / "tests" / "support" / "crds" / "keda.sh_scaledobjects.yaml").read_text()
    )
    return crd


def upstream_crds(team_data_dir: Path) -> list[Manifest]:
    """The third-party CRDs the children use, as their projects publish them (team data)."""
    folder = team_data_dir / "schemas" / "crds"
    return [yaml.safe_load((folder / name).read_text()) for name in UPSTREAM_CRD_FILES]


class Cluster:
    """A namespace of the test's own on the control plane, and the fault proxy in front of it."""

    def __init__(self, cp: ControlPlane, namespace: str, proxy: FaultProxy) -> None:
        self.cp = cp
        self.namespace = namespace
        self.faults = proxy
        self._plurals: dict[tuple[str, str], tuple[str, bool]] = {}

    @property
    def url(self) -> str:
        """Where the reconciler under test connects: the fault proxy."""
        return self.faults.url

    @property
    def requests(self) -> list[Any]:
        """Every request that went through the proxy (method, path, query, User-Agent, status)."""
        return self.faults.requests

    def client_config(self, **overrides: Any) -> ClientConfig:
        """For the reconciler under test: through the proxy, as the administrator, with its User-Agent."""
        token = f"Bearer {self.cp.admin_token}"  # the header value, as the kubeconfig loader gives it
        fields = {
            "host": self.url,
            "token": lambda: token,
            "qps": 1000,
            "burst": 1000,
            "user_agent": USER_AGENT,
        }
        return ClientConfig(**{**fields, **overrides})

    def direct_config(self, **overrides: Any) -> ClientConfig:
        """For the test's own requests: straight to the API server over TLS."""
        context = ssl.create_default_context(cafile=str(self.cp.ca_file))
        token = f"Bearer {self.cp.admin_token}"  # the header value, as the kubeconfig loader gives it
        fields = {
            "host": self.cp.url,
            "ssl_context": context,
            "token": lambda: token,
            "qps": 1000,
            "burst": 1000,
        }
        return ClientConfig(**{**fields, **overrides})

    # ----- reads -----------------------------------------------------------------------------------

    def _resource(self, api_version: str, kind: str) -> tuple[str, bool]:
        key = (api_version, kind)
        if key not in self._plurals:
            base = f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"
            for r in self.cp.api("GET", base)["resources"]:
                if "/" not in r["name"]:
                    self._plurals[(api_version, r["kind"])] = (r["name"], r["namespaced"])
        if key not in self._plurals:
            raise KeyError(f"no resource serves {kind} in {api_version}")
        return self._plurals[key]

    def path(self, api_version: str, kind: str, namespace: str | None = None, name: str = "") -> str:
        plural, namespaced = self._resource(api_version, kind)
        base = f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"
        if namespaced and namespace:
            base += f"/namespaces/{namespace}"
        return f"{base}/{plural}" + (f"/{name}" if name else "")

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Manifest | None:
        """The object as the API server has it now, or None. Namespaced kinds default to the test's."""
        try:
            return self.cp.api(
                "GET", self.path(api_version, kind, self._ns(api_version, kind, namespace), name)
            )
        except ApiError as e:
            if e.code == 404:
                return None
            raise

    def list(self, api_version: str, kind: str, namespace: str | None = None) -> list[Manifest]:
        """Objects of a kind in `namespace` (the test's by default; "" for every namespace)."""
        items: list[Manifest] = self.cp.api(
            "GET", self.path(api_version, kind, self._ns(api_version, kind, namespace))
        )["items"]
        return items

    def _ns(self, api_version: str, kind: str, namespace: str | None) -> str:
        if not self._resource(api_version, kind)[1]:
            return ""
        return self.namespace if namespace is None else namespace

    # ----- writes ----------------------------------------------------------------------------------

    async def create(self, obj: Manifest, namespace: str | None = None) -> Manifest:
        """Create through the full API pipeline (admission included); the test's namespace by default."""
        meta = obj.get("metadata") or {}
        ns = self._ns(obj["apiVersion"], obj["kind"], namespace or meta.get("namespace"))
        body = json.loads(json.dumps(obj))
        if ns:
            body.setdefault("metadata", {})["namespace"] = ns
        path = self.path(obj["apiVersion"], obj["kind"], ns)
        return await asyncio.to_thread(self.cp.api, "POST", path, body)

    async def request(
        self, method: str, path: str, body: Manifest | None = None, content_type: str = "application/json"
    ) -> Manifest:
        return await asyncio.to_thread(self.cp.api, method, path, body, content_type=content_type)

    async def install_crd(self, crd: Manifest) -> None:
        await asyncio.to_thread(self.cp.install_crds, [crd])
        self._plurals.clear()

    # ----- faults ----------------------------------------------------------------------------------

    def close_watches(self) -> int:
        return self.faults.close_watches()

    async def restart(self, kill: bool = False) -> None:
        """Restart kube-apiserver (same port, same etcd): every connection and watch is cut.
        With `kill`, SIGKILL, as a crash ends it: no graceful drain of requests in flight."""
        await asyncio.to_thread(self.cp.restart_apiserver, kill)
