"""A real Kubernetes control plane on loopback for tests, benchmarks and the demo.

`binaries` finds or builds the programs (etcd, kube-apiserver, kube-controller-manager,
kube-scheduler, kubectl, kwok); `controlplane` runs them; `faults` puts an HTTP fault proxy
between a client and the API server. Nothing here is shipped in the service images.
"""

from testbed.binaries import Binaries, BinariesError, ensure_binaries
from testbed.controlplane import ControlPlane, NodeSpec, Options
from testbed.processes import TestbedError

__all__ = [
    "Binaries",
    "BinariesError",
    "ControlPlane",
    "NodeSpec",
    "Options",
    "TestbedError",
    "ensure_binaries",
]
