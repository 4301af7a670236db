"""The Deployments pass arguments and environment the services actually accept, the ports they then
listen on are the ports the manifests name, and the probed and scraped paths are routes they serve."""

from __future__ import annotations

import logging
from pathlib import Path

from aiohttp import web
from prometheus_client import CollectorRegistry

from reconciler import config as reconciler_config
from reconciler.runtime import health as reconciler_health
from tests.manifests import layout
from tests.manifests.layout import Manifest
from webhook import app as webhook_app
from webhook import config as webhook_config
from webhook import metrics as webhook_metrics


def environment(container: Manifest) -> dict[str, str]:
    """The container's environment; downward-API values get a stand-in, as the kubelet fills them."""
    return {e["name"]: e.get("value", f"<{e['name'].lower()}>") for e in container.get("env") or []}


def container_ports(container: Manifest) -> dict[str, int]:
    return {p["name"]: p["containerPort"] for p in container["ports"]}


def test_webhook_accepts_the_deployment_arguments(default_install: list[Manifest]) -> None:
    ctr = layout.container(layout.find(default_install, "Deployment", layout.WEBHOOK_DEPLOYMENT))
    cfg = webhook_config.load(ctr["args"], environment(ctr))
    ports = container_ports(ctr)
    assert (cfg.port, cfg.metrics_port) == (ports["webhook"], ports["metrics"])
    assert (cfg.cert_file, cfg.key_file) == (Path("/tls/tls.crt"), Path("/tls/tls.key"))
    assert isinstance(logging.getLevelName(cfg.log_level.upper()), int)


def test_webhook_environment_names_are_settings_it_reads(default_install: list[Manifest]) -> None:
    ctr = layout.container(layout.find(default_install, "Deployment", layout.WEBHOOK_DEPLOYMENT))
    known = {webhook_config.env_name(flag.name) for flag in webhook_config.FLAGS}
    assert set(environment(ctr)) <= known


def test_reconciler_accepts_the_deployment_arguments(default_install: list[Manifest]) -> None:
    ctr = layout.container(layout.find(default_install, "Deployment", layout.RECONCILER_DEPLOYMENT))
    env = environment(ctr)
    cfg = reconciler_config.load(ctr["args"], env)
    ports = container_ports(ctr)
    assert reconciler_config.parse_bind(cfg.health_bind) == ("0.0.0.0", ports["health"])
    assert reconciler_config.parse_bind(cfg.metrics_bind) == ("0.0.0.0", ports["metrics"])
    lease = cfg.manager.leader_election
    assert lease is not None, "two replicas without leader election would reconcile twice"
    assert (lease.name, lease.namespace) == ("model-operator-leader-election", env["POD_NAMESPACE"])
    assert isinstance(logging.getLevelName(cfg.log_level.upper()), int)


def test_reconciler_environment_names_are_settings_it_reads(default_install: list[Manifest]) -> None:
    ctr = layout.container(layout.find(default_install, "Deployment", layout.RECONCILER_DEPLOYMENT))
    known = {reconciler_config.env_name(flag.name) for flag in reconciler_config.FLAGS}
    assert set(environment(ctr)) <= known | {"POD_NAME", "POD_NAMESPACE"}


def routes(app: web.Application) -> set[str]:
    return {resource.canonical for resource in app.router.resources()}


def probe_paths(container: Manifest) -> set[str]:
    return {container[p]["httpGet"]["path"] for p in ("startupProbe", "livenessProbe", "readinessProbe")}


def test_webhook_serves_its_probes_and_scrape_path(default_install: list[Manifest]) -> None:
    ctr = layout.container(layout.find(default_install, "Deployment", layout.WEBHOOK_DEPLOYMENT))
    cfg = webhook_config.load(ctr["args"], environment(ctr))
    admission = webhook_app.make_app(cfg)
    assert probe_paths(ctr) <= routes(admission)
    assert {"/mutate", "/validate"} <= routes(admission)
    assert "/metrics" in routes(webhook_metrics.make_metrics_app(webhook_metrics.WebhookMetrics()))


def test_reconciler_serves_its_probes_and_scrape_path(default_install: list[Manifest]) -> None:
    ctr = layout.container(layout.find(default_install, "Deployment", layout.RECONCILER_DEPLOYMENT))
    assert probe_paths(ctr) <= routes(reconciler_health.probes_app(lambda: True, lambda: True))
    assert "/metrics" in routes(reconciler_health.metrics_app(CollectorRegistry()))
