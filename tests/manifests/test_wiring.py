"""Objects that refer to each other by label or name actually meet: Services and budgets select the
right pods, ports exist where they are named, policies admit exactly the documented traffic,
bindings and ServiceAccounts exist, ServiceMonitors find the metrics Services.

The API server checks none of this; a typo here installs cleanly and fails at run time.
"""

from __future__ import annotations

import pytest

from tests.manifests import layout
from tests.manifests.layout import Manifest

MONITORING_NAMESPACE = {"kubernetes.io/metadata.name": "monitoring"}
SERVICES = {
    "modelservice-webhook": layout.WEBHOOK_DEPLOYMENT,
    "modelservice-webhook-metrics": layout.WEBHOOK_DEPLOYMENT,
    "modelservice-reconciler-metrics": layout.RECONCILER_DEPLOYMENT,
}


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def pod_labels(objects: list[Manifest], deployment: str) -> dict[str, str]:
    labels: dict[str, str] = layout.find(objects, "Deployment", deployment)["spec"]["template"]["metadata"][
        "labels"
    ]
    return labels


def container_ports(objects: list[Manifest], deployment: str) -> dict[str, int]:
    ctr = layout.container(layout.find(objects, "Deployment", deployment))
    return {p["name"]: p["containerPort"] for p in ctr["ports"]}


def selected_deployments(objects: list[Manifest], selector: dict[str, str]) -> list[str]:
    return [
        d["metadata"]["name"]
        for d in layout.of_kind(objects, "Deployment")
        if selects(selector, pod_labels(objects, d["metadata"]["name"]))
    ]


@pytest.mark.parametrize("deployment", [layout.WEBHOOK_DEPLOYMENT, layout.RECONCILER_DEPLOYMENT])
def test_deployment_selector_matches_its_pod_template(
    deployment: str, default_install: list[Manifest]
) -> None:
    selector = layout.find(default_install, "Deployment", deployment)["spec"]["selector"]["matchLabels"]
    assert selects(selector, pod_labels(default_install, deployment))
    assert selected_deployments(default_install, selector) == [deployment]


@pytest.mark.parametrize(("service", "deployment"), sorted(SERVICES.items()), ids=sorted(SERVICES))
def test_service_selects_its_pods_and_targets_named_ports(
    service: str, deployment: str, default_install: list[Manifest]
) -> None:
    spec = layout.find(default_install, "Service", service)["spec"]
    assert selected_deployments(default_install, spec["selector"]) == [deployment]
    ports = container_ports(default_install, deployment)
    assert all(p["targetPort"] in ports for p in spec["ports"]), spec["ports"]


def test_disruption_budget_selects_the_webhook_pods(default_install: list[Manifest]) -> None:
    selector = layout.find(default_install, "PodDisruptionBudget", "modelservice-webhook")["spec"]["selector"]
    assert selected_deployments(default_install, selector["matchLabels"]) == [layout.WEBHOOK_DEPLOYMENT]


@pytest.mark.parametrize("deployment", [layout.WEBHOOK_DEPLOYMENT, layout.RECONCILER_DEPLOYMENT])
def test_probes_and_spreading_refer_to_what_exists(deployment: str, default_install: list[Manifest]) -> None:
    obj = layout.find(default_install, "Deployment", deployment)
    ctr = layout.container(obj)
    ports = container_ports(default_install, deployment)
    assert all(
        ctr[p]["httpGet"]["port"] in ports for p in ("startupProbe", "livenessProbe", "readinessProbe")
    )
    (spread,) = layout.pod_spec(obj)["topologySpreadConstraints"]
    assert selects(spread["labelSelector"]["matchLabels"], pod_labels(default_install, deployment))
    account = layout.pod_spec(obj)["serviceAccountName"]
    assert (
        layout.find(default_install, "ServiceAccount", account)["metadata"]["namespace"] == layout.NAMESPACE
    )


def ingress_by_port(policy: Manifest) -> dict[int, list[Manifest]]:
    """Port -> the `from` peers admitted to it ([] means any source)."""
    admitted: dict[int, list[Manifest]] = {}
    for rule in policy["spec"].get("ingress") or []:
        for port in rule["ports"]:
            admitted.setdefault(port["port"], []).extend(rule.get("from") or [])
    return admitted


@pytest.mark.parametrize(
    ("deployment", "expected"),
    [
        (
            layout.WEBHOOK_DEPLOYMENT,
            {"webhook": [], "metrics": [{"namespaceSelector": {"matchLabels": MONITORING_NAMESPACE}}]},
        ),
        (
            layout.RECONCILER_DEPLOYMENT,
            {"health": [], "metrics": [{"namespaceSelector": {"matchLabels": MONITORING_NAMESPACE}}]},
        ),
    ],
    ids=["webhook-port-open-metrics-from-monitoring", "health-open-metrics-from-monitoring"],
)
def test_network_policy_admits_only_the_documented_traffic(
    deployment: str, expected: dict[str, list[Manifest]], default_install: list[Manifest]
) -> None:
    policy = layout.find(default_install, "NetworkPolicy", deployment)
    assert selected_deployments(default_install, policy["spec"]["podSelector"]["matchLabels"]) == [deployment]
    assert "Ingress" in policy["spec"]["policyTypes"]
    ports = container_ports(default_install, deployment)
    assert ingress_by_port(policy) == {ports[name]: peers for name, peers in expected.items()}


def test_webhook_may_not_open_connections(default_install: list[Manifest]) -> None:
    spec = layout.find(default_install, "NetworkPolicy", layout.WEBHOOK_DEPLOYMENT)["spec"]
    assert "Egress" in spec["policyTypes"]
    assert spec["egress"] == []


@pytest.mark.parametrize("kind", ["RoleBinding", "ClusterRoleBinding"])
def test_bindings_refer_to_existing_roles_and_accounts(kind: str, default_install: list[Manifest]) -> None:
    bindings = layout.of_kind(default_install, kind)
    assert bindings
    for binding in bindings:
        ref = binding["roleRef"]
        assert layout.find(default_install, ref["kind"], ref["name"])
        for subject in binding["subjects"]:
            account = layout.find(default_install, subject["kind"], subject["name"])
            assert account["metadata"]["namespace"] == subject["namespace"]


@pytest.mark.parametrize("monitor", ["modelservice-webhook", "modelservice-reconciler"])
def test_service_monitor_scrapes_a_metrics_service_port(
    monitor: str, flavours: dict[str, list[Manifest]]
) -> None:
    objects = flavours["monitoring"]
    spec = layout.find(objects, "ServiceMonitor", monitor)["spec"]
    services = [
        s
        for s in layout.of_kind(objects, "Service")
        if selects(spec["selector"]["matchLabels"], s["metadata"]["labels"])
    ]
    assert [s["metadata"]["name"] for s in services] == [f"{monitor}-metrics"]
    port_names = {p["name"] for p in services[0]["spec"]["ports"]}
    assert {e["port"] for e in spec["endpoints"]} <= port_names
