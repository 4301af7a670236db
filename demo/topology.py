"""The system on one machine: certificates, a real control plane, webhook and reconciler processes.

Every service binds port 0 and announces the port it got in its log; `start` returns at once
and `wait_ready` reads the port back and then polls `/readyz` (over verified TLS for the
webhook), so several processes can start in parallel and be awaited afterwards.

The webhook configurations installed are the ones in `manifests/` with the CA bundle filled in
and one change: they name the Service `modelservice-webhook.modelservice-system:443`, which a
cluster routes through kube-proxy to the webhook pods. Here no kube-proxy runs and Endpoints may
not point at loopback addresses, so `clientConfig.service` becomes `clientConfig.url` on
127.0.0.1 (where the webhook, or a stand-in for a Service in front of several replicas, listens).
The serving certificate names 127.0.0.1, so the API server still verifies it against the CA.
"""

from __future__ import annotations

import contextlib
import io
import re
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from certs import cli as certs_cli
from demo.kubectl import Kubectl
from demo.processes import REPO_ROOT, Child, Supervisor
from demo.waiting import DemoError, wait_for
from testbed import ControlPlane, Options
from testbed.crds import third_party_crds

SERVICE_NAME = "modelservice-webhook"
SERVICE_NAMESPACE = "modelservice-system"
SERVICE_DNS_NAME = f"{SERVICE_NAME}.{SERVICE_NAMESPACE}.svc"
"""The name the API server verifies the webhook's certificate against."""

CRD_FILE = REPO_ROOT / "manifests" / "crd" / "model.otterscale.io_modelservices.yaml"
NAMESPACE_FILE = REPO_ROOT / "manifests" / "base" / "namespace.yaml"
WEBHOOK_CONFIG_FILES = (
    REPO_ROOT / "manifests" / "webhook" / "mutating-webhook-configuration.yaml",
    REPO_ROOT / "manifests" / "webhook" / "validating-webhook-configuration.yaml",
)
READY_TIMEOUT = 30.0
OnPoll = Callable[[], None] | None


# ----- certificates --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CertFiles:
    """The CA and the webhook's serving pair written by `python -m certs create`."""

    directory: Path

    @property
    def ca(self) -> Path:
        return self.directory / certs_cli.CA_CERT

    @property
    def cert(self) -> Path:
        return self.directory / certs_cli.TLS_CERT

    @property
    def key(self) -> Path:
        return self.directory / certs_cli.TLS_KEY

    def client_context(self) -> ssl.SSLContext:
        """A client context trusting only this CA, as the API server's caBundle does."""
        return ssl.create_default_context(cafile=str(self.ca))


def _run_certs(argv: Sequence[str]) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = certs_cli.main(argv)
    if code != 0:
        raise DemoError(f"`python -m certs {' '.join(argv)}` failed (exit code {code}):\n{out.getvalue()}")
    return out.getvalue()


def create_certs(directory: Path) -> CertFiles:
    """A CA and a serving certificate for the webhook Service's DNS names, 127.0.0.1 and localhost."""
    argv = ["create", "--dir", str(directory), "--service", SERVICE_NAME, "--namespace", SERVICE_NAMESPACE]
    _run_certs([*argv, "--san", "127.0.0.1", "--san", "localhost"])
    return CertFiles(directory)


def webhook_configurations(certs: CertFiles, out_dir: Path, address: str) -> list[Path]:
    """Copies of the manifests' webhook configurations with the CA bundle injected and the
    Service reference replaced by `https://{address}` with the same path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    copies = []
    for path in WEBHOOK_CONFIG_FILES:
        config = yaml.safe_load(path.read_text())
        for webhook in config.get("webhooks") or ():
            service = webhook["clientConfig"].pop("service")
            webhook["clientConfig"]["url"] = f"https://{address}{service.get('path', '/')}"
        copy = out_dir / path.name
        copy.write_text(yaml.safe_dump(config, sort_keys=False))
        copies.append(copy)
    _run_certs(["inject-ca", "--ca", str(certs.ca), *map(str, copies)])
    return copies


# ----- readiness -----------------------------------------------------------------------------------


def http_status(url: str, context: ssl.SSLContext | None = None, timeout: float = 1.0) -> int | None:
    """The status code of GET `url`, or None if nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as response:
            return int(response.status)
    except urllib.error.HTTPError as e:
        return e.code
    except (urllib.error.URLError, OSError):
        return None


def _wait_ready(
    child: Child, url: str, timeout: float, on_poll: OnPoll, context: ssl.SSLContext | None = None
) -> None:
    last: list[int | None] = [None]

    def check() -> bool | None:
        last[0] = http_status(url, context)
        if last[0] == 200:
            return True
        child.ensure_alive()
        return None

    wait_for(
        check,
        timeout=timeout,
        what=f"{child.name} to report ready at {url}",
        explain=lambda: f"last answer {last[0] or 'none'}; last log lines:\n{child.tail()}",
        on_poll=on_poll,
    )


def _announced_port(child: Child, message: str, timeout: float, on_poll: OnPoll) -> int:
    """The port in the JSON log line whose msg is `message`."""
    found = child.wait_for_log(rf'"msg": ?"{re.escape(message)}".*?"port": ?(\d+)', timeout, on_poll)
    return int(found.group(1))


# ----- the services --------------------------------------------------------------------------------


class Webhook:
    """`python -m webhook` on 127.0.0.1, TLS with the given certificates, no metrics port."""

    def __init__(self, child: Child, certs: CertFiles) -> None:
        self.child = child
        self.certs = certs
        self.port = 0

    @classmethod
    def start(
        cls, supervisor: Supervisor, certs: CertFiles, name: str = "webhook", extra_args: Sequence[str] = ()
    ) -> Webhook:
        args = ["--host=127.0.0.1", "--port=0", "--metrics-port=-1", f"--cert-file={certs.cert}"]
        args += [f"--key-file={certs.key}", "--log-level=info", "--shutdown-timeout=2", *extra_args]
        return cls(supervisor.python(name, "webhook", args), certs)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = READY_TIMEOUT, on_poll: OnPoll = None) -> Webhook:
        self.port = _announced_port(self.child, "webhook serving", timeout, on_poll)
        url = f"https://{self.address}/readyz"
        _wait_ready(self.child, url, timeout, on_poll, self.certs.client_context())
        return self


class Cluster:
    """The real control plane: etcd, kube-apiserver, controller-manager, scheduler and KWOK with
    fake GPU nodes, its processes under the supervisor; the platform's third-party CRDs (stand-ins)
    are there from the start, as on a cluster prepared for the operator."""

    def __init__(self, control_plane: ControlPlane) -> None:
        self.control_plane = control_plane

    @classmethod
    def start(cls, supervisor: Supervisor, work_dir: Path, pod_delay: float = 0.1) -> Cluster:
        """etcd and kube-apiserver, serving; the workers start with `start_workers`."""
        delay_ms = int(pod_delay * 1000)
        options = Options(crds=third_party_crds(), stage_delay_ms=delay_ms, stage_jitter_ms=delay_ms)
        control_plane = ControlPlane(work_dir, options=options)
        supervisor.control_planes.append(control_plane)
        control_plane.start_api()
        return cls(control_plane)

    def start_workers(self) -> None:
        self.control_plane.start_workers()

    @property
    def kubeconfig(self) -> Path:
        return self.control_plane.kubeconfig

    @property
    def url(self) -> str:
        return self.control_plane.url


class Reconciler:
    """`python -m reconciler` against a kubeconfig; probes on 127.0.0.1, no metrics port."""

    def __init__(self, child: Child) -> None:
        self.child = child
        self.health_port = 0

    @classmethod
    def start(
        cls,
        supervisor: Supervisor,
        kubeconfig: Path,
        name: str = "reconciler",
        leader_election: bool = False,
        extra_args: Sequence[str] = (),
    ) -> Reconciler:
        args = [f"--kubeconfig={kubeconfig}", "--health-probe-bind-address=127.0.0.1:0"]
        args += ["--metrics-bind-address=0", "--log-level=info", "--shutdown-timeout=5"]
        if leader_election:
            args += ["--leader-elect=true", f"--leader-election-namespace={SERVICE_NAMESPACE}"]
        # POD_NAME prefixes the Lease holder identity, so the holder names its process.
        child = supervisor.python(name, "reconciler", [*args, *extra_args], env={"POD_NAME": name})
        return cls(child)

    def wait_ready(self, timeout: float = READY_TIMEOUT, on_poll: OnPoll = None) -> Reconciler:
        self.health_port = _announced_port(self.child, "serving health probes", timeout, on_poll)
        _wait_ready(self.child, f"http://127.0.0.1:{self.health_port}/readyz", timeout, on_poll)
        return self


def install(kubectl: Kubectl, certs: CertFiles, work_dir: Path, webhook_address: str) -> list[str]:
    """Apply the CRD, the operator namespace and the webhook configurations; kubectl's output lines."""
    configurations = webhook_configurations(certs, work_dir / "webhook-configurations", webhook_address)
    files = [CRD_FILE, NAMESPACE_FILE, *configurations]
    result = kubectl("apply", *(f"--filename={path}" for path in files)).check()
    # ModelServices can be applied once the API server serves the new kind.
    crd = f"customresourcedefinition/{yaml.safe_load(CRD_FILE.read_text())['metadata']['name']}"
    kubectl("wait", "--for=condition=Established", "--timeout=30s", crd, timeout=40).check()
    return result.stdout.splitlines()
