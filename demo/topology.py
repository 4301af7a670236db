"""The system on one machine: certificates, webhook, local API server and reconciler processes.

Every service binds port 0 and announces the port it got in its log; `start` returns at once
and `wait_ready` reads the port back and then polls `/readyz` (over verified TLS for the
webhook), so several processes can start in parallel and be awaited afterwards.

The webhook configurations installed are the ones in `manifests/`, unchanged except for the CA
bundle; they name the Service `modelservice-webhook.modelservice-system:443`, which the local
API server resolves through its service host map to wherever the webhook (or a stand-in for a
Service in front of several replicas) listens.
"""

from __future__ import annotations

import contextlib
import io
import re
import shutil
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from certs import cli as certs_cli
from demo.kubectl import Kubectl
from demo.processes import REPO_ROOT, Child, Supervisor
from demo.waiting import DemoError, wait_for

SERVICE_NAME = "modelservice-webhook"
SERVICE_NAMESPACE = "modelservice-system"
SERVICE_KEY = f"{SERVICE_NAME}.{SERVICE_NAMESPACE}:443"
"""How the webhook configurations' `clientConfig.service` appears in the service host map."""
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


def webhook_configurations(certs: CertFiles, out_dir: Path) -> list[Path]:
    """Copies of the manifests' webhook configurations with the CA bundle injected."""
    out_dir.mkdir(parents=True, exist_ok=True)
    copies = [Path(shutil.copy(path, out_dir / path.name)) for path in WEBHOOK_CONFIG_FILES]
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
    """`python -m localcluster` with simulated Deployments and the third-party CRD stubs."""

    def __init__(self, child: Child, kubeconfig: Path) -> None:
        self.child = child
        self.kubeconfig = kubeconfig
        self.url = ""

    @classmethod
    def start(
        cls,
        supervisor: Supervisor,
        kubeconfig: Path,
        webhook_address: str | None = None,
        deployment_delay: float = 0.0,
        name: str = "apiserver",
    ) -> Cluster:
        args = ["--port=0", f"--kubeconfig={kubeconfig}", "--controllers", "--third-party-crds"]
        args.append(f"--deployment-delay={deployment_delay}")
        if webhook_address is not None:
            args.append(f"--service-host={SERVICE_KEY}={webhook_address}")
        return cls(supervisor.python(name, "localcluster", args), kubeconfig)

    def wait_ready(self, timeout: float = READY_TIMEOUT, on_poll: OnPoll = None) -> Cluster:
        self.url = self.child.wait_for_log(r"serving on (http://\S+)", timeout, on_poll).group(1)
        _wait_ready(self.child, f"{self.url}/readyz", timeout, on_poll)
        return self


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


def install(kubectl: Kubectl, certs: CertFiles, work_dir: Path) -> list[str]:
    """Apply the CRD, the operator namespace and the webhook configurations; kubectl's output lines."""
    files = [CRD_FILE, NAMESPACE_FILE, *webhook_configurations(certs, work_dir / "webhook-configurations")]
    result = kubectl("apply", *(f"--filename={path}" for path in files)).check()
    return result.stdout.splitlines()
