"""Autoscaling targets: vLLM's metric names, their order, and quantities as each engine reads them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shared.api import AutoscalingSpec
from shared.builders import autoscaling
from shared.kube_types import parse_quantity
from tests.builders.factories import make_ms


def test_vllm_metrics_keep_their_name_with_the_colon_made_an_underscore_for_the_adapter() -> None:
    assert autoscaling.ADAPTER_NAMES == {
        "vllm:num_requests_waiting": "vllm_num_requests_waiting",
        "vllm:kv_cache_usage_perc": "vllm_kv_cache_usage_perc",
    }


def test_targets_come_in_a_fixed_order_built_in_first() -> None:
    scaling = AutoscalingSpec.model_validate(
        {
            "maxReplicas": 2,
            "metrics": [{"name": "mine", "averageValue": "3", "query": "sum(q)"}],
            "kvCacheUsage": "0.9",
            "requestsWaiting": 4,
        }
    )
    assert [(t.name, t.value, t.series, t.query) for t in autoscaling.targets(scaling)] == [
        ("vllm_num_requests_waiting", Decimal(4), "vllm:num_requests_waiting", None),
        ("vllm_kv_cache_usage_perc", Decimal("0.9"), "vllm:kv_cache_usage_perc", None),
        ("mine", Decimal(3), None, "sum(q)"),
    ]


# What the API server stores for these quantities (k8s.io/apimachinery resource.Quantity, decimal SI:
# integral mantissa, exponent a multiple of three).
CANONICAL = [
    ("5", "5"),
    ("0.8", "800m"),
    ("800m", "800m"),
    ("0.25", "250m"),
    ("0.125", "125m"),
    ("1", "1"),
    ("100", "100"),
    ("1500", "1500"),
    ("2000", "2k"),
    ("2.5k", "2500"),
    ("1e3", "1k"),
    ("3000000", "3M"),
    ("1Ki", "1024"),
    ("0", "0"),
]


@pytest.mark.parametrize(("text", "stored"), CANONICAL, ids=[c[0] for c in CANONICAL])
def test_hpa_targets_are_written_as_the_api_server_stores_them(text: str, stored: str) -> None:
    assert autoscaling.canonical_quantity(parse_quantity(text)) == stored


PLAIN = [("5", "5"), ("0.8", "0.8"), ("800m", "0.8"), ("2k", "2000"), ("1500", "1500"), ("0.125", "0.125")]


@pytest.mark.parametrize(("text", "threshold"), PLAIN, ids=[p[0] for p in PLAIN])
def test_keda_thresholds_are_plain_decimals(text: str, threshold: str) -> None:
    assert autoscaling.plain_decimal(parse_quantity(text)) == threshold


def test_the_built_in_keda_query_sums_the_series_the_groups_podmonitor_scrapes() -> None:
    query = autoscaling.group_total_query(make_ms(), "prefill", "vllm:num_requests_waiting")
    assert query == 'sum(vllm:num_requests_waiting{namespace="llm",job="llm/qwen3-0.6b-prefill"})'
