"""Measure the reconciler as its own process against a real control plane.

    python -m bench.reconciler [--sizes 1000] [--replicas 1] [--runs 1] [--idle 60] [--resync-period 20]

Per size and run, a fresh control plane (etcd, kube-apiserver, controller-manager, scheduler,
KWOK with fake nodes big enough for every pod, the third-party CRD stand-ins) and a fresh
reconciler (`python -m reconciler`) start; this process then creates the ModelServices (each with
`--replicas` decode pods, made by the real Deployment and ReplicaSet controllers, placed by the
scheduler and run by KWOK, or with `--pod-status bench` made ready by this process, one status
write per pod, where KWOK cannot keep up: `bench.reconciler.kubelet`; the reconciler caches every
one of them) and reports:

* converge seconds - first create until every ModelService reports Ready=True;
* requests per ModelService by verb while converging (from the reconciler's
  `reconciler_api_requests_total`; status patches and Events included);
* the idle phase: `--idle` seconds with a `--resync-period` resync (every ModelService reconciled
  again each period): reconciles, API requests made, and reconciler CPU per no-op reconcile (all
  CPU of the process in that window divided by the reconciles, so an upper bound);
* reconciler CPU seconds while converging, RSS and peak RSS (VmHWM), read from /proc, and the
  objects it had cached by kind (serving pods among them).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from bench.reconciler.kubelet import CUSTOM_STATUS, play_kubelet
from testbed import ControlPlane, NodeSpec, Options
from testbed.crds import third_party_crds

REPO = Path(__file__).resolve().parents[2]
CRD = REPO / "manifests" / "crd" / "model.otterscale.io_modelservices.yaml"
NS = "bench"
PODS_PER_NODE = 1000
"""Fake nodes hold this many pods (and as many GPUs), far beyond a kubelet's default 110: the
benchmark measures the reconciler, not how many nodes the scheduler can spread pods over."""
TICKS = os.sysconf("SC_CLK_TCK")


def model_service(i: int, replicas: int = 1, custom_status: bool = False) -> dict[str, Any]:
    return {
        "apiVersion": "model.otterscale.io/v1alpha1",
        "kind": "ModelService",
        "metadata": {"name": f"m{i}", "namespace": NS},
        "spec": {
            "model": {"name": f"model-{i}", "image": "registry.example.com/models/m:1"},
            "engine": {},
            "accelerator": {"type": "nvidia"},
            "decode": {"replicas": replicas} | ({"annotations": CUSTOM_STATUS} if custom_status else {}),
        },
    }


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def memory_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


async def _drain(stream: asyncio.StreamReader, sink: list[dict[str, Any]]) -> None:
    while line := await stream.readline():
        if line.startswith(b"{") and (b'"serving' in line or b'"level":"error"' in line):
            sink.append(json.loads(line))


def _nodes(size: int, replicas: int = 1) -> list[NodeSpec]:
    """Room for the decode pods and an EPP pod per ModelService, with one GPU per decode pod."""
    count = max(1, -(-(replicas + 1) * size // PODS_PER_NODE))
    gpus = str(PODS_PER_NODE)
    capacity = {"cpu": "100000", "memory": "100Ti", "pods": str(PODS_PER_NODE), "nvidia.com/gpu": gpus}
    return [NodeSpec(f"bench-{i}", capacity, {"nvidia.com/gpu.present": "true"}) for i in range(count)]


@asynccontextmanager
async def control_plane(workdir: Path, size: int, replicas: int = 1) -> AsyncIterator[ControlPlane]:
    crds = [yaml.safe_load(CRD.read_text()), *third_party_crds()]
    # No delays: pods are Running and Ready as fast as KWOK can write it.
    options = Options(nodes=_nodes(size, replicas), crds=crds, stage_delay_ms=0, stage_jitter_ms=0)
    cp = ControlPlane(workdir, options=options)
    await asyncio.to_thread(cp.start)
    try:
        await asyncio.to_thread(
            cp.api,
            "POST",
            "/api/v1/namespaces",
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
        )
        await asyncio.to_thread(cp.wait_default_service_account, NS)
        yield cp
    finally:
        await asyncio.to_thread(cp.stop)


@asynccontextmanager
async def reconciler(kubeconfig: Path, args: argparse.Namespace) -> AsyncIterator[tuple[int, int]]:
    """The reconciler process; yields (pid, metrics port)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "reconciler",
        "--kubeconfig",
        str(kubeconfig),
        "--workers",
        str(args.workers),
        "--kube-api-qps",
        str(args.qps),
        "--kube-api-burst",
        str(args.qps * 2),
        "--resync-period",
        str(args.resync_period),
        "--health-probe-bind-address",
        "0",
        "--metrics-bind-address",
        "127.0.0.1:0",
        cwd=REPO,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None
    lines: list[dict[str, Any]] = []
    drain = asyncio.create_task(_drain(proc.stderr, lines))
    try:
        async with asyncio.timeout(60):
            while not (port := next((e["port"] for e in lines if e.get("msg") == "serving metrics"), None)):
                await asyncio.sleep(0.05)
        yield proc.pid, int(port)
    finally:
        proc.terminate()
        await proc.wait()
        await drain


async def metrics(http: aiohttp.ClientSession, port: int) -> dict[str, float]:
    async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
        text = await response.text()
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def by_verb(sample: dict[str, float]) -> dict[str, float]:
    counts: dict[str, float] = {}
    for name, value in sample.items():
        if name.startswith("reconciler_api_requests_total{"):
            verb = name.split('verb="')[1].split('"')[0]
            counts[verb] = counts.get(verb, 0) + value
    return counts


def cached(sample: dict[str, float]) -> dict[str, int]:
    """Objects in the reconciler's cache by kind (the gauge is set at each resync)."""
    counts = {}
    for name, value in sample.items():
        if name.startswith("reconciler_cache_objects{"):
            counts[name.split('kind="')[1].split('"')[0]] = int(value)
    return counts


def reconciles(sample: dict[str, float]) -> float:
    return sum(v for k, v in sample.items() if k.startswith("controller_runtime_reconcile_total{"))


async def create_all(
    http: aiohttp.ClientSession, url: str, size: int, args: argparse.Namespace, concurrency: int = 32
) -> None:
    path = f"{url}/apis/model.otterscale.io/v1alpha1/namespaces/{NS}/modelservices"
    queue = iter(range(size))
    custom = args.pod_status == "bench"

    async def worker() -> None:
        for i in queue:
            async with http.post(path, json=model_service(i, args.replicas, custom)) as response:
                if response.status != 201:
                    raise RuntimeError(f"create m{i}: {response.status} {await response.text()}")

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def wait_ready(http: aiohttp.ClientSession, url: str, size: int, timeout: float) -> None:
    """Until every ModelService reports Ready=True (a watch from the start, so nothing is missed)."""
    path = f"{url}/apis/model.otterscale.io/v1alpha1/namespaces/{NS}/modelservices"
    ready: set[str] = set()
    params = {"watch": "1", "resourceVersion": "0", "timeoutSeconds": str(int(timeout))}
    async with asyncio.timeout(timeout), http.get(path, params=params, timeout=None) as response:
        async for line in response.content:
            event = json.loads(line)
            obj = event["object"]
            conditions = (obj.get("status") or {}).get("conditions") or []
            if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions):
                ready.add(obj["metadata"]["name"])
                if len(ready) == size:
                    return
    raise RuntimeError(f"only {len(ready)} of {size} ModelServices became Ready")


async def wait_idle(http: aiohttp.ClientSession, port: int) -> dict[str, float]:
    """Until the queue is empty and no API request was made for a second; the last sample.

    Reconciles may go on (a short resync period keeps them coming); idle means they write nothing.
    """
    last = await metrics(http, port)
    while True:
        await asyncio.sleep(1.0)
        sample = await metrics(http, port)
        depth = sample.get('workqueue_depth{name="modelservice"}', 0.0)
        if depth == 0 and by_verb(sample) == by_verb(last):
            return sample
        last = sample


async def one_run(size: int, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        async with control_plane(Path(tmp), size, args.replicas) as cp:
            return await _measure(cp, size, args)


async def _measure(cp: ControlPlane, size: int, args: argparse.Namespace) -> dict[str, Any]:
    url = cp.url
    # The administrator's client certificate for this process's own creates and watch.
    connector = aiohttp.TCPConnector(ssl=cp.ssl_context(), limit=64)
    async with (
        reconciler(cp.kubeconfig, args) as (pid, port),
        aiohttp.ClientSession(connector=connector) as http,
    ):
        await wait_idle(http, port)
        cpu0 = cpu_seconds(pid)
        started = time.monotonic()
        watcher = asyncio.create_task(wait_ready(http, url, size, args.timeout))
        kubelet = asyncio.create_task(play_kubelet(http, url, NS)) if args.pod_status == "bench" else None
        await create_all(http, url, size, args)
        try:
            await watcher
        finally:
            if kubelet is not None:
                kubelet.cancel()
                await asyncio.gather(kubelet, return_exceptions=True)
        converge = time.monotonic() - started
        settled = await wait_idle(http, port)
        cpu_converge = cpu_seconds(pid) - cpu0
        verbs = by_verb(settled)
        cpu1, idle_start = cpu_seconds(pid), reconciles(settled)
        await asyncio.sleep(args.idle)
        after = await wait_idle(http, port)
        idle_reconciles = reconciles(after) - idle_start
        idle_cpu = cpu_seconds(pid) - cpu1
        idle_requests = {k: v - verbs.get(k, 0) for k, v in by_verb(after).items() if v != verbs.get(k, 0)}
        return {
            "size": size,
            "decode_replicas": args.replicas,
            "pod_status": args.pod_status,
            "cached": cached(after),
            "converge_seconds": round(converge, 2),
            "requests_per_modelservice": {k: round(v / size, 2) for k, v in sorted(verbs.items())},
            "cpu_seconds_converging": round(cpu_converge, 2),
            "idle_seconds": args.idle,
            "idle_reconciles": int(idle_reconciles),
            "idle_requests": idle_requests,
            "cpu_ms_per_noop_reconcile": round(1000 * idle_cpu / idle_reconciles, 3)
            if idle_reconciles
            else None,
            "rss_mib": round(memory_kib(pid, "VmRSS") / 1024, 1),
            "peak_rss_mib": round(memory_kib(pid, "VmHWM") / 1024, 1),
        }


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median of the numeric figures over runs (the first run's dicts)."""
    out = dict(runs[0])
    for key, value in runs[0].items():
        if isinstance(value, int | float) and key != "size":
            values = [r[key] for r in runs if r[key] is not None]
            out[key] = statistics.median(values) if values else None
    out["runs"] = len(runs)
    return out


async def main_async(args: argparse.Namespace) -> list[dict[str, Any]]:
    results = []
    for size in args.sizes:
        runs = [await one_run(size, args) for _ in range(args.runs)]
        result = summarize(runs)
        print(json.dumps(result), flush=True)
        results.append(result)
    return results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.reconciler", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=[1000])
    parser.add_argument("--replicas", type=int, default=1, help="decode pods per ModelService")
    parser.add_argument(
        "--pod-status",
        choices=("kwok", "bench"),
        default="kwok",
        help="who writes the decode pods' status: KWOK's stages, or this process once per pod (10,000 pods)",
    )
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--qps", type=int, default=5000, help="the reconciler's client-side QPS (burst 2x)")
    parser.add_argument("--resync-period", type=float, default=20.0)
    parser.add_argument("--idle", type=float, default=60.0, help="seconds of idle measurement")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for convergence")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    asyncio.run(main_async(parse_args(argv)))
    return 0
