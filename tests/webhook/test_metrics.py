"""The webhook's hand-kept admission numbers scrape exactly as prometheus_client's own types would."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from webhook.metrics import LATENCY_BUCKETS, WebhookMetrics

# Durations on, just under and just over every bucket bound, plus ones past the last bound.
DURATIONS = [d for b in LATENCY_BUCKETS for d in (b, b * 0.999, b * 1.001)] + [0.0, 2.0, 30.0]


def _samples(text: str, family: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a family except `_created`, which holds a wall-clock time."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text)
        if f.name == family
        for s in f.samples
        if not s.name.endswith("_created")
    }


def test_counts_and_buckets_match_prometheus_client_types() -> None:
    ours = WebhookMetrics()
    reference = CollectorRegistry()
    requests = Counter("webhook_admission_requests", "", ["hook", "operation", "verdict"], registry=reference)
    latency = Histogram(
        "webhook_admission_duration_seconds",
        "",
        ["hook", "verdict"],
        buckets=LATENCY_BUCKETS,
        registry=reference,
    )
    denials = Counter("webhook_admission_denials", "", ["hook", "reason"], registry=reference)
    for i, seconds in enumerate(DURATIONS):
        hook, verdict, reason = ("validate", "denied", "Invalid") if i % 3 else ("mutate", "patched", "")
        ours.observe(hook, "CREATE", verdict, seconds, reason)
        requests.labels(hook, "CREATE", verdict).inc()
        latency.labels(hook, verdict).observe(seconds)
        if reason:
            denials.labels(hook, reason).inc()
    expected, actual = generate_latest(reference).decode(), ours.render().decode()
    for family in (
        "webhook_admission_requests",
        "webhook_admission_duration_seconds",
        "webhook_admission_denials",
    ):
        want = _samples(expected, family)
        assert want, family
        assert _samples(actual, family) == want, family


def test_the_created_time_is_exposed_per_label_set() -> None:
    metrics = WebhookMetrics()
    metrics.observe("mutate", "CREATE", "patched", 0.001)
    created = metrics.registry.get_sample_value(
        "webhook_admission_requests_created", {"hook": "mutate", "operation": "CREATE", "verdict": "patched"}
    )
    assert created is not None and created > 1.7e9
