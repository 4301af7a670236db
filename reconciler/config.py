"""Reconciler configuration from flags, ``RECONCILER_*`` environment variables and a settings file.

``ReconcilerSettings`` declares every setting once (``shared.flags``): the operator settings both
services share, then how the reconciler runs. Every flag ``--some-flag`` has the variable
``RECONCILER_SOME_FLAG``; a flag on the command line wins over the variable, which wins over
``--settings-file``, which wins over the default. Repeatable flags (``--namespace``, ``--epp-flag``,
``--allowed-image-prefix``) take a comma-separated variable. Flag names follow the reference
operator's where it has one (``--default-engine-image``, ``--leader-elect``, ...). ``load`` assembles
the settings into the ``ReconcilerConfig`` the process runs with; ``describe()`` renders the table
of all flags.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from reconciler.manager import ManagerOptions, default_identity
from reconciler.runtime.leader import LeaseConfig
from shared.flags import Flag, FlagSet, Settings
from shared.settings import OperatorSettings

ENV_PREFIX = "RECONCILER_"
LEASE_NAME = "model-operator-leader-election"
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


@dataclass(frozen=True)
class ReconcilerConfig:
    """Everything ``python -m reconciler`` needs: what to build, how to run, where to listen.

    ``load`` assembles it from ``ReconcilerSettings``, which holds the defaults.
    """

    operator: OperatorSettings
    manager: ManagerOptions
    kubeconfig: str | None
    context: str | None
    qps: float
    burst: int
    health_bind: str
    metrics_bind: str
    log_level: str
    shutdown_timeout: float


class ReconcilerSettings(Settings):
    """Every setting of the reconciler: what the children look like, then how it runs."""

    operator: Annotated[OperatorSettings, Flag("")] = OperatorSettings()
    """The settings both services share; their flags carry no prefix."""
    namespace: tuple[str, ...] = ()
    """Watch only these namespaces; none: all."""
    workers: int = 2
    """Concurrent reconciles."""
    kubeconfig: str | None = None
    """Kubeconfig file; default: in-cluster, else $KUBECONFIG or ~/.kube/config."""
    context: str | None = None
    """Kubeconfig context."""
    kube_api_qps: float = 50.0
    """Client-side API request rate."""
    kube_api_burst: int = 100
    """Client-side API burst."""
    queue_qps: float = 10.0
    """Overall retry rate of the work queue."""
    queue_burst: int = 100
    """Overall retry burst of the work queue."""
    resync_period: float = 300.0
    """Seconds between reconciles of every ModelService."""
    discovery_period: float = 30.0
    """Seconds between checks for newly installed CRDs."""
    watch_timeout: int = 300
    """Seconds before a watch is renewed."""
    leader_elect: bool = False
    """Hold a Lease so only one replica reconciles."""
    leader_election_id: str = LEASE_NAME
    """Name of the Lease."""
    leader_election_namespace: str | None = None
    """Namespace of the Lease; default: the pod's."""
    lease_duration: float = 15.0
    """Seconds a standby waits before taking over."""
    renew_deadline: float = 10.0
    """Seconds the leader keeps trying to renew."""
    retry_period: float = 2.0
    """Seconds between Lease attempts."""
    health_probe_bind_address: str = ":8081"
    """host:port of /healthz and /readyz; 0 disables."""
    metrics_bind_address: str = ":8080"
    """host:port of /metrics; 0 disables."""
    log_level: str = "info"
    """debug, info, warning or error."""
    shutdown_timeout: float = 30.0
    """Seconds in-flight reconciles get on SIGTERM."""


FLAG_SET = FlagSet(
    ReconcilerSettings,
    ENV_PREFIX,
    prog="python -m reconciler",
    description="ModelService reconciler.",
    file_group="operator",
)
FLAGS = FLAG_SET.flags
env_name = FLAG_SET.env_name
build_parser = FLAG_SET.build_parser
describe = FLAG_SET.describe


def load(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> ReconcilerConfig:
    """Flags over environment over the settings file over defaults; a bad value exits with
    argparse's usage message."""
    settings = FLAG_SET.load(argv, environ)
    try:
        return _config(settings, os.environ if environ is None else environ)
    except ValueError as e:
        FLAG_SET.fail(str(e))


def _config(s: ReconcilerSettings, env: Mapping[str, str]) -> ReconcilerConfig:
    lease = None
    if s.leader_elect:
        lease = LeaseConfig(
            name=s.leader_election_id,
            namespace=s.leader_election_namespace or _own_namespace(env),
            identity=default_identity(),
            lease_duration=s.lease_duration,
            renew_deadline=s.renew_deadline,
            retry_period=s.retry_period,
        )
    manager = ManagerOptions(
        namespaces=s.namespace,
        workers=s.workers,
        resync_period=s.resync_period,
        discovery_period=s.discovery_period,
        watch_timeout=s.watch_timeout,
        leader_election=lease,
        queue_qps=s.queue_qps,
        queue_burst=s.queue_burst,
    )
    if manager.workers < 1:
        raise ValueError(f"--workers must be at least 1, got {manager.workers}")
    parse_bind(s.health_probe_bind_address)
    parse_bind(s.metrics_bind_address)
    return ReconcilerConfig(
        operator=s.operator,
        manager=manager,
        kubeconfig=s.kubeconfig,
        context=s.context,
        qps=s.kube_api_qps,
        burst=s.kube_api_burst,
        health_bind=s.health_probe_bind_address,
        metrics_bind=s.metrics_bind_address,
        log_level=s.log_level,
        shutdown_timeout=s.shutdown_timeout,
    )


def _own_namespace(env: Mapping[str, str]) -> str:
    if env.get("POD_NAMESPACE"):
        return env["POD_NAMESPACE"]
    if SERVICE_ACCOUNT_NAMESPACE.is_file():
        return SERVICE_ACCOUNT_NAMESPACE.read_text().strip()
    return "default"


def parse_bind(address: str) -> tuple[str, int] | None:
    """``host:port`` (``:8081`` is every interface); ``0`` or empty disables the server."""
    if address in ("", "0"):
        return None
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"bind address must be host:port, :port or 0, got {address!r}")
    return host or "0.0.0.0", int(port)
