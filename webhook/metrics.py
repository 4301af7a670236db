"""Prometheus metrics of the webhook, in a registry of their own, served on a plain-HTTP port.

A registry per `WebhookMetrics` (instead of the process-global one) lets tests run many apps in
one process. Label children are cached: resolving `labels(...)` takes a lock and a dict lookup per
call, which shows up at thousands of requests per second.
"""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


class WebhookMetrics:
    """Request counts and latency by hook and verdict, denials by reason, in-flight, certificate."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "webhook_admission_requests",
            "Admission requests answered, by hook (mutate/validate), operation and verdict.",
            ["hook", "operation", "verdict"],
            registry=r,
        )
        self.latency = Histogram(
            "webhook_admission_duration_seconds",
            "Time to answer an admission request, body read to response ready.",
            ["hook", "verdict"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.denials = Counter(
            "webhook_admission_denials",
            "Denied or rejected admission requests by hook and reason (Invalid, Forbidden, BadRequest).",
            ["hook", "reason"],
            registry=r,
        )
        # A plain integer read at scrape time: no lock on the request path.
        self.in_flight = 0
        Gauge("webhook_admission_in_flight_requests", "Requests being answered.", registry=r).set_function(
            lambda: self.in_flight
        )
        self.cert_expiry = Gauge(
            "webhook_certificate_expiry_timestamp_seconds",
            "Expiry (Unix time) of the serving certificate in use.",
            registry=r,
        )
        self.cert_reload_errors = Counter(
            "webhook_certificate_reload_errors",
            "Failed attempts to load changed certificate files.",
            registry=r,
        )
        self._counted: dict[tuple[str, str, str], Counter] = {}
        self._timed: dict[tuple[str, str], Histogram] = {}

    def observe(self, hook: str, operation: str, verdict: str, seconds: float, reason: str = "") -> None:
        """Record one answered request; `reason` is set for denials and bad requests."""
        key = (hook, operation, verdict)
        counter = self._counted.get(key)
        if counter is None:
            counter = self._counted[key] = self.requests.labels(hook, operation, verdict)
        counter.inc()
        timer = self._timed.get((hook, verdict))
        if timer is None:
            timer = self._timed[(hook, verdict)] = self.latency.labels(hook, verdict)
        timer.observe(seconds)
        if reason:
            self.denials.labels(hook, reason).inc()

    def set_cert_expiry(self, timestamp: float) -> None:
        self.cert_expiry.set(timestamp)

    def render(self) -> bytes:
        return generate_latest(self.registry)


METRICS_KEY = web.AppKey("metrics", WebhookMetrics)


async def _metrics(request: web.Request) -> web.Response:
    body = request.app[METRICS_KEY].render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def make_metrics_app(metrics: WebhookMetrics) -> web.Application:
    """The plain-HTTP app serving GET /metrics."""
    app = web.Application()
    app[METRICS_KEY] = metrics
    app.router.add_get("/metrics", _metrics)
    return app
