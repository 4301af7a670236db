"""A tiny run of the reconciler benchmark (a control plane and a reconciler process), so it keeps working."""

from __future__ import annotations

import asyncio

import pytest

from bench.reconciler.run import one_run, parse_args


@pytest.mark.parametrize(
    "pod_status", ["kwok", "bench"], ids=["kwok-runs-the-pods", "bench-plays-the-kubelet"]
)
async def test_the_benchmark_runs_and_a_converged_reconciler_is_idle(pod_status: str) -> None:
    argv = ["--idle", "1", "--resync-period", "0.5", "--timeout", "60", "--workers", "2", "--replicas", "2"]
    args = parse_args([*argv, "--pod-status", pod_status])
    async with asyncio.timeout(60):
        result = await one_run(3, args)
    per_ms = result["requests_per_modelservice"]
    # One Created and one Ready Event.
    assert per_ms["create"] == 2
    # 11 children, each created by one server-side apply; status writes: Running, then Ready, plus
    # one per intermediate state the real Deployment and ReplicaSet controllers report on the way
    # (pods created, then ready, EPP and decode apart).
    assert 11 + 2 <= per_ms["patch"] <= 11 + 8, per_ms
    assert result["cached"]["Pod"] == 3 * (2 + 1), "every decode and EPP pod is cached"
    assert per_ms.get("update", 0) == 0
    assert result["idle_reconciles"] >= 3
    assert result["idle_requests"] == {}, "no-op reconciles and idle watches make no requests"
    assert 0 < result["peak_rss_mib"] < 250
