"""``python -m reconciler`` as its own process: probes, metrics, reconciling, SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from typing import Any

import aiohttp

from reconciler.runtime.client import Client
from reconciler.runtime.leader import LEASES
from tests.reconciler.harness import condition, get, model_service, wait_for
from tests.support.cluster import REPO, Cluster


async def _log_lines(stream: asyncio.StreamReader, sink: list[dict[str, Any]]) -> None:
    while line := await stream.readline():
        try:
            sink.append(json.loads(line))
        except ValueError:
            sink.append({"msg": line.decode(errors="replace")})


def _ready(cluster: Cluster) -> bool:
    return condition(get(cluster, "ModelService", "qwen"), "Ready").get("status") == "True"


def _port(lines: list[dict[str, Any]], message: str) -> int | None:
    return next((int(e["port"]) for e in lines if e.get("msg") == message), None)


async def test_the_process_serves_probes_and_metrics_reconciles_and_stops_on_sigterm(
    cluster: Cluster, kube: Client
) -> None:
    env = os.environ | {
        # The administrator's kubeconfig: TLS with a client certificate, straight to the API server.
        "RECONCILER_KUBECONFIG": str(cluster.cp.kubeconfig),
        "RECONCILER_LEADER_ELECT": "true",
        "RECONCILER_LEASE_DURATION": "2",
        "RECONCILER_RENEW_DEADLINE": "1.5",
        "RECONCILER_RETRY_PERIOD": "0.2",
        # The Lease goes into the test's namespace, so no other test's operator shares it.
        "POD_NAMESPACE": cluster.namespace,
    }
    args = [
        "--health-probe-bind-address",
        "127.0.0.1:0",
        "--metrics-bind-address",
        "127.0.0.1:0",
        f"--namespace={cluster.namespace}",
    ]
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "reconciler", *args, cwd=REPO, env=env, stderr=asyncio.subprocess.PIPE
    )
    assert process.stderr is not None
    lines: list[dict[str, Any]] = []
    reader = asyncio.create_task(_log_lines(process.stderr, lines))
    try:
        probes = await wait_for(lambda: _port(lines, "serving health probes"), 20, "the probe port")
        metrics = await wait_for(lambda: _port(lines, "serving metrics"), 5, "the metrics port")
        async with aiohttp.ClientSession() as http:

            async def ready() -> bool:
                async with http.get(f"http://127.0.0.1:{probes}/readyz") as response:
                    return response.status == 200

            await wait_for(ready, 10, "/readyz")
            async with http.get(f"http://127.0.0.1:{probes}/healthz") as response:
                assert response.status == 200
            await cluster.create(model_service("qwen"))
            # Ready needs real pods: scheduled, then made ready by the fake kubelets.
            await wait_for(lambda: _ready(cluster), 30, "Ready")
            async with http.get(f"http://127.0.0.1:{metrics}/metrics") as response:
                text = await response.text()
        assert 'leader_election_master_status{name="model-operator-leader-election"} 1.0' in text
        assert 'controller_runtime_reconcile_total{controller="modelservice",result="success"}' in text
        assert 'rest_client_requests_total{code="201",method="POST"}' in text
        assert "workqueue_depth" in text
        reconcile_lines = [e for e in lines if e.get("msg") == "created children"]
        assert reconcile_lines and reconcile_lines[0]["key"] == f"{cluster.namespace}/qwen"
        assert reconcile_lines[0]["reconcile_id"]
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(10):
            assert await process.wait() == 0
        lease = await kube.get(LEASES, "model-operator-leader-election", cluster.namespace)
        assert lease["spec"]["holderIdentity"] == "", "the lease is released on SIGTERM"
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await reader
