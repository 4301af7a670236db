"""The two Deployments: restricted pod security, probes, resources and spreading (one table over
both), and arguments the services actually accept."""

from __future__ import annotations

from typing import Any

import pytest

from tests.manifests import layout
from tests.manifests.layout import Manifest

WEBHOOK = layout.WEBHOOK_DEPLOYMENT
RECONCILER = layout.RECONCILER_DEPLOYMENT
DEPLOYMENTS = [WEBHOOK, RECONCILER]
ABSENT = object()

POD = "spec.template.spec"
CTR = f"{POD}.containers.0"
HARDENING: list[tuple[str, Any]] = [
    ("spec.replicas", 2),
    (f"{POD}.securityContext.runAsNonRoot", True),
    (f"{POD}.securityContext.runAsUser", 65532),
    (f"{POD}.securityContext.runAsGroup", 65532),
    (f"{POD}.securityContext.seccompProfile.type", "RuntimeDefault"),
    (f"{POD}.hostNetwork", ABSENT),
    (f"{POD}.hostPID", ABSENT),
    (f"{POD}.hostIPC", ABSENT),
    (f"{POD}.enableServiceLinks", False),
    (f"{POD}.topologySpreadConstraints.0.topologyKey", "kubernetes.io/hostname"),
    (f"{CTR}.securityContext.runAsNonRoot", True),
    (f"{CTR}.securityContext.runAsUser", 65532),
    (f"{CTR}.securityContext.runAsGroup", 65532),
    (f"{CTR}.securityContext.readOnlyRootFilesystem", True),
    (f"{CTR}.securityContext.allowPrivilegeEscalation", False),
    (f"{CTR}.securityContext.privileged", ABSENT),
    (f"{CTR}.securityContext.capabilities", {"drop": ["ALL"]}),
    (f"{CTR}.securityContext.seccompProfile.type", "RuntimeDefault"),
    (f"{CTR}.startupProbe.httpGet.path", "/healthz"),
    (f"{CTR}.livenessProbe.httpGet.path", "/healthz"),
    (f"{CTR}.readinessProbe.httpGet.path", "/readyz"),
    (f"{CTR}.imagePullPolicy", "IfNotPresent"),
]
RESOURCES = ["requests.cpu", "requests.memory", "limits.cpu", "limits.memory"]


def dig(obj: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(obj, list):
            obj = obj[int(part)] if int(part) < len(obj) else ABSENT
        elif isinstance(obj, dict):
            obj = obj.get(part, ABSENT)
        if obj is ABSENT:
            return ABSENT
    return obj


CASES = [(d, path, value) for d in DEPLOYMENTS for path, value in HARDENING]


@pytest.mark.parametrize(("deployment", "path", "expected"), CASES, ids=[f"{d}-{p}" for d, p, _ in CASES])
def test_deployment_field(deployment: str, path: str, expected: Any, default_install: list[Manifest]) -> None:
    assert dig(layout.find(default_install, "Deployment", deployment), path) == expected


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=DEPLOYMENTS)
@pytest.mark.parametrize("resource", RESOURCES, ids=RESOURCES)
def test_deployment_sets_resource(deployment: str, resource: str, default_install: list[Manifest]) -> None:
    value = dig(
        layout.container(layout.find(default_install, "Deployment", deployment))["resources"], resource
    )
    assert isinstance(value, str) and value


@pytest.mark.parametrize(
    ("deployment", "port", "scheme"),
    [(WEBHOOK, "webhook", "HTTPS"), (RECONCILER, "health", "HTTP")],
    ids=["webhook-over-tls", "reconciler-health-port"],
)
def test_probes_target_the_health_endpoint(
    deployment: str, port: str, scheme: str, default_install: list[Manifest]
) -> None:
    ctr = layout.container(layout.find(default_install, "Deployment", deployment))
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert ctr[probe]["httpGet"]["port"] == port
        assert ctr[probe]["httpGet"].get("scheme", "HTTP") == scheme


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=DEPLOYMENTS)
def test_tmp_is_a_writable_empty_dir(deployment: str, default_install: list[Manifest]) -> None:
    obj = layout.find(default_install, "Deployment", deployment)
    mount = next(m for m in layout.container(obj)["volumeMounts"] if m["mountPath"] == "/tmp")
    volume = next(v for v in layout.pod_spec(obj)["volumes"] if v["name"] == mount["name"])
    assert "emptyDir" in volume
    assert not mount.get("readOnly", False)


def test_reconciler_runs_with_leader_election_and_knows_its_pod(default_install: list[Manifest]) -> None:
    ctr = layout.container(layout.find(default_install, "Deployment", RECONCILER))
    assert "--leader-elect=true" in ctr["args"]
    downward = {e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"] for e in ctr["env"] if "valueFrom" in e}
    assert downward == {"POD_NAME": "metadata.name", "POD_NAMESPACE": "metadata.namespace"}


def test_webhook_disruption_budget_keeps_one_replica(default_install: list[Manifest]) -> None:
    budget = layout.find(default_install, "PodDisruptionBudget", WEBHOOK)
    assert budget["spec"]["minAvailable"] == 1
    assert budget["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
