"""Prometheus metrics of a controller, named as controller-runtime and client-go name theirs.

Dashboards and alerts written for Go operators work unchanged. Every ``Metrics`` owns its registry,
so two controllers in one process (tests run a leader and a standby) never collide.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_RECONCILE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_QUEUE_BUCKETS = (1e-5, 1e-4, 1e-3, 0.01, 0.1, 1, 10, 100, 1000)
_REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Metrics:
    """Collectors for one controller process: reconciles, work queue, API requests, leader election."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.reconcile_total = Counter(
            "controller_runtime_reconcile_total",
            "Total number of reconciliations per controller",
            ["controller", "result"],
            registry=r,
        )
        self.reconcile_errors = Counter(
            "controller_runtime_reconcile_errors_total",
            "Total number of reconciliation errors per controller",
            ["controller"],
            registry=r,
        )
        self.reconcile_time = Histogram(
            "controller_runtime_reconcile_time_seconds",
            "Length of time per reconciliation per controller",
            ["controller"],
            buckets=_RECONCILE_BUCKETS,
            registry=r,
        )
        self.active_workers = Gauge(
            "controller_runtime_active_workers",
            "Number of currently used workers per controller",
            ["controller"],
            registry=r,
        )
        self.queue_depth = Gauge("workqueue_depth", "Current depth of workqueue", ["name"], registry=r)
        self.queue_adds = Counter(
            "workqueue_adds_total", "Total number of adds handled by workqueue", ["name"], registry=r
        )
        self.queue_retries = Counter(
            "workqueue_retries_total", "Total number of retries handled by workqueue", ["name"], registry=r
        )
        self.queue_duration = Histogram(
            "workqueue_queue_duration_seconds",
            "How long in seconds an item stays in workqueue before being requested",
            ["name"],
            buckets=_QUEUE_BUCKETS,
            registry=r,
        )
        self.requests = Counter(
            "rest_client_requests_total",
            "Number of HTTP requests, partitioned by status code and method",
            ["code", "method"],
            registry=r,
        )
        self.requests_by_verb = Counter(
            "reconciler_api_requests_total",
            "API requests by Kubernetes verb (get, list, watch, create, update, patch, delete) and code",
            ["verb", "code"],
            registry=r,
        )
        self.request_latency = Histogram(
            "rest_client_request_duration_seconds",
            "Request latency in seconds, by verb",
            ["verb"],
            buckets=_REQUEST_BUCKETS,
            registry=r,
        )
        self.leader = Gauge(
            "leader_election_master_status",
            "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, "
            "1 indicates master",
            ["name"],
            registry=r,
        )
        self.cached_objects = Gauge(
            "reconciler_cache_objects", "Objects held in the informer caches, by kind", ["kind"], registry=r
        )
