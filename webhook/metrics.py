"""Prometheus metrics of the webhook, in a registry of their own, served on a plain-HTTP port.

A registry per `WebhookMetrics` (instead of the process-global one) lets tests run many apps in
one process.

The per-request metrics are plain integers and floats, turned into Prometheus families only when
scraped. `prometheus_client`'s Counter and Histogram take a lock and walk a few layers of wrappers
on every `inc`/`observe`: several microseconds a request, a twentieth of the webhook's whole
server time. Only the event loop thread records requests, so the numbers need no lock; a scrape,
which runs on the same loop, always sees a request fully counted or not at all.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Iterator

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


# The `le` labels as prometheus_client writes them (repr is the same for these bounds; a test checks).
_BOUNDS = (*(repr(b) for b in LATENCY_BUCKETS), "+Inf")


class _Latency:
    """One label set's histogram: a count per bucket (not cumulative; the scrape adds them up)."""

    __slots__ = ("counts", "created", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(LATENCY_BUCKETS) + 1)  # the last one is +Inf
        self.total = 0.0
        self.created = time.time()


class _AdmissionCollector(Collector):
    """Exposes the plain numbers under the names and types Counter and Histogram would use."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, str], list[float]] = {}
        """(hook, operation, verdict) -> [count, created]."""
        self.latency: dict[tuple[str, str], _Latency] = {}
        """(hook, verdict) -> its histogram."""
        self.denials: dict[tuple[str, str], list[float]] = {}
        """(hook, reason) -> [count, created]."""

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "webhook_admission_requests",
            "Admission requests answered, by hook (mutate/validate), operation and verdict.",
            labels=["hook", "operation", "verdict"],
        )
        for request_labels, (count, created) in list(self.requests.items()):
            requests.add_metric(request_labels, count, created=created)
        yield requests
        latency = HistogramMetricFamily(
            "webhook_admission_duration_seconds",
            "Time to answer an admission request, body read to response ready.",
            labels=["hook", "verdict"],
        )
        for latency_labels, histogram in list(self.latency.items()):
            cumulative, buckets = 0, []
            for bound, in_bucket in zip(_BOUNDS, histogram.counts, strict=True):
                cumulative += in_bucket
                buckets.append((bound, float(cumulative)))
            latency.add_metric(latency_labels, buckets, histogram.total)
        yield latency
        denials = CounterMetricFamily(
            "webhook_admission_denials",
            "Denied or rejected admission requests by hook and reason (Invalid, Forbidden, BadRequest).",
            labels=["hook", "reason"],
        )
        for denial_labels, (count, created) in list(self.denials.items()):
            denials.add_metric(denial_labels, count, created=created)
        yield denials


class WebhookMetrics:
    """Request counts and latency by hook and verdict, denials by reason, in-flight, certificate."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        r = self.registry
        self._admissions = _AdmissionCollector()
        r.register(self._admissions)
        # A plain integer read at scrape time, like the admission numbers.
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

    def observe(self, hook: str, operation: str, verdict: str, seconds: float, reason: str = "") -> None:
        """Record one answered request; `reason` is set for denials and bad requests.

        Call it from the event loop thread only (see the module docstring).
        """
        admissions = self._admissions
        counted = admissions.requests.get((hook, operation, verdict))
        if counted is None:
            counted = admissions.requests[(hook, operation, verdict)] = [0, time.time()]
        counted[0] += 1
        histogram = admissions.latency.get((hook, verdict))
        if histogram is None:
            histogram = admissions.latency[(hook, verdict)] = _Latency()
        # bisect_left: a duration equal to a bound belongs to that bucket (le means <=).
        histogram.counts[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        histogram.total += seconds
        if reason:
            denied = admissions.denials.get((hook, reason))
            if denied is None:
                denied = admissions.denials[(hook, reason)] = [0, time.time()]
            denied[0] += 1

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
