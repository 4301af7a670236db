"""Measure the local API server over real HTTP, with the server in its own process.

    python -m bench.localcluster [--runs 3] [--writes 5000] [--watchers 10] [--memory-writes 100000]

Per run a fresh server (`python -m localcluster`) is started and this process acts as client:

* creates/s  - POST of small ConfigMaps, `--concurrency` requests in flight;
* gets/s     - GET of those ConfigMaps;
* watch events/s (fan-out) - `--watchers` watch streams open while ConfigMaps are patched;
  events delivered to all watchers per second of wall time;
* watch events/s (replay) - one watch resuming from a resourceVersion the history still holds;
* server RSS while `--memory-writes` patches cycle over 100 objects (history is bounded).

Figures are the median over `--runs`. Rates are given per second of wall time and per second of
CPU time used by the server process (from /proc), which stays meaningful when the client or
other work competes for the cores. The client counts watch lines without parsing them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

NS = "bench"
PATCH = {"Content-Type": "application/merge-patch+json"}


class Server:
    """`python -m localcluster` in a child process."""

    def __init__(self, history: int) -> None:
        self.history = history
        self.proc: asyncio.subprocess.Process | None = None
        self.url = ""

    async def __aenter__(self) -> Server:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "localcluster",
            "--history-size",
            str(self.history),
            "--bookmark-interval",
            "3600",
            stdout=asyncio.subprocess.PIPE,
            cwd=Path(__file__).resolve().parents[2],
        )
        assert self.proc.stdout is not None
        async with asyncio.timeout(30):
            line = (await self.proc.stdout.readline()).decode()
        self.url = line.rsplit(" ", 1)[-1].strip()
        if not self.url.startswith("http"):
            raise RuntimeError(f"server did not start: {line!r}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            await self.proc.wait()

    def cpu_seconds(self) -> float:
        """User plus system CPU time the server process has used so far."""
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mib(self) -> float:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0


async def pool(count: int, concurrency: int, job: Callable[[int], Awaitable[None]]) -> float:
    """Run job(0..count-1) with `concurrency` in flight; returns operations per second."""
    counter = iter(range(count))

    async def worker() -> None:
        for i in counter:
            await job(i)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return count / (time.perf_counter() - start)


async def expect(resp: aiohttp.ClientResponse, code: int) -> None:
    if resp.status != code:
        raise RuntimeError(f"{resp.method} {resp.url}: {resp.status} {await resp.text()}")


async def count_lines(resp: aiohttp.ClientResponse, target: int) -> None:
    seen = 0
    async for chunk in resp.content.iter_any():
        seen += chunk.count(b"\n")
        if seen >= target:
            return
    raise RuntimeError(f"watch ended after {seen} of {target} events")


async def one_run(args: argparse.Namespace) -> dict[str, float]:
    out: dict[str, float] = {}
    async with Server(args.history) as server:
        connector = aiohttp.TCPConnector(limit=args.concurrency + args.watchers + 4)
        async with aiohttp.ClientSession(server.url, connector=connector) as http:
            async with http.post("/api/v1/namespaces", json={"metadata": {"name": NS}}) as resp:
                await expect(resp, 201)
            base = f"/api/v1/namespaces/{NS}/configmaps"

            async def create(i: int) -> None:
                body = {"metadata": {"name": f"cm-{i}", "labels": {"bench": "yes"}}, "data": {"k": str(i)}}
                async with http.post(base, json=body) as resp:
                    await expect(resp, 201)

            async def get(i: int) -> None:
                async with http.get(f"{base}/cm-{i % args.writes}") as resp:
                    await expect(resp, 200)
                    await resp.read()

            cpu = server.cpu_seconds()
            out["creates_per_s"] = await pool(args.writes, args.concurrency, create)
            cpu, used = server.cpu_seconds(), server.cpu_seconds() - cpu
            out["creates_per_server_cpu_s"] = args.writes / used
            out["gets_per_s"] = await pool(args.writes, args.concurrency, get)
            cpu, used = server.cpu_seconds(), server.cpu_seconds() - cpu
            out["gets_per_server_cpu_s"] = args.writes / used
            out.update(await watch_fanout(http, server, base, args))
            out.update(await memory(http, server, base, args))
    return out


async def watch_fanout(
    http: aiohttp.ClientSession, server: Server, base: str, args: argparse.Namespace
) -> dict[str, float]:
    async with http.get(base, params={"limit": "1"}) as resp:
        rv = (await resp.json())["metadata"]["resourceVersion"]
    updates = args.watch_writes
    streams = [
        await http.get(base, params={"watch": "1", "resourceVersion": rv}) for _ in range(args.watchers)
    ]
    readers = [asyncio.create_task(count_lines(s, updates)) for s in streams]

    async def patch(i: int) -> None:
        async with http.patch(
            f"{base}/cm-{i % args.writes}", data=json.dumps({"data": {"v": str(i)}}), headers=PATCH
        ) as resp:
            await expect(resp, 200)

    start, cpu = time.perf_counter(), server.cpu_seconds()
    await pool(updates, args.concurrency, patch)
    async with asyncio.timeout(120):
        await asyncio.gather(*readers)
    delivered = updates * args.watchers
    fanout = delivered / (time.perf_counter() - start)
    fanout_cpu = delivered / (server.cpu_seconds() - cpu)
    for s in streams:
        s.close()
    # Replay: the same events again, straight from the history, to one watcher.
    start = time.perf_counter()
    async with http.get(base, params={"watch": "1", "resourceVersion": rv}) as stream:
        async with asyncio.timeout(120):
            await count_lines(stream, updates)
    replay = updates / (time.perf_counter() - start)
    return {
        "watch_events_per_s_fanout": fanout,
        "watch_events_per_server_cpu_s_fanout": fanout_cpu,
        "watch_events_per_s_replay": replay,
    }


async def memory(
    http: aiohttp.ClientSession, server: Server, base: str, args: argparse.Namespace
) -> dict[str, float]:
    samples = {"rss_mib_start": server.rss_mib()}
    step = args.memory_writes // 5

    async def patch(i: int) -> None:
        async with http.patch(
            f"{base}/cm-{i % 100}", data=json.dumps({"data": {"v": str(i)}}), headers=PATCH
        ) as resp:
            await expect(resp, 200)

    for n in range(1, 6):
        await pool(step, args.concurrency, patch)
        samples[f"rss_mib_after_{n * step}"] = server.rss_mib()
    return samples


def machine() -> str:
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.localcluster", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--writes", type=int, default=5000)
    parser.add_argument("--watch-writes", type=int, default=3000)
    parser.add_argument("--watchers", type=int, default=10)
    parser.add_argument("--memory-writes", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--history", type=int, default=10_000)
    parser.add_argument("--json", action="store_true", help="print the medians as JSON")
    args = parser.parse_args(argv)
    runs = [asyncio.run(one_run(args)) for _ in range(args.runs)]
    medians: dict[str, Any] = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    if args.json:
        print(json.dumps({"machine": machine(), "runs": args.runs, "median": medians}, indent=2))
        return 0
    print(f"machine: {machine()}; median of {args.runs} runs")
    for key, value in medians.items():
        print(f"  {key:40} {value:12,.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
