"""Webhook benchmark: the real TLS server on loopback under keep-alive load.

    .venv/bin/python -m bench.webhook.run [--seconds 5] [--runs 3] [--scenario mutate-minimal ...]

The server runs as `python -m webhook` pinned to CPU 0, this load generator pins itself to CPU 1.
For each scenario and concurrency (1, 16, 64) it reports requests/s, latency p50/p90/p99 and the
server's CPU time per request (utime+stime from /proc/PID/stat around the run), as the median of
`--runs` runs. Results go to stdout as a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.webhook import loadgen, payloads
from certs import cli as certs_cli

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _start_server(
    cert_dir: Path, server_cpu: int | None, baseline: bool
) -> tuple[subprocess.Popen[bytes], int]:
    cmd = [
        sys.executable,
        "-m",
        "webhook",
        "--cert-dir",
        str(cert_dir),
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--metrics-port",
        "-1",
    ]
    if baseline:
        cmd = [sys.executable, "-m", "bench.webhook.echo_server", str(cert_dir)]
    if server_cpu is not None:
        cmd = ["taskset", "-c", str(server_cpu), *cmd]
    log_file = cert_dir / "server.log"
    with log_file.open("wb") as log:
        proc = subprocess.Popen(cmd, stderr=log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        for line in log_file.read_text().splitlines():
            entry = json.loads(line)
            if entry.get("msg") == "webhook serving":
                return proc, int(entry["port"])
        time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"webhook did not start:\n{log_file.read_text()}")


def _percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def measure(
    pid: int, port: int, ca: str, scenario: str, concurrency: int, seconds: float
) -> dict[str, float]:
    path, bodies = payloads.SCENARIOS[scenario]
    asyncio.run(loadgen.run("127.0.0.1", port, ca, path, bodies, concurrency, 0.5))  # warm-up
    cpu_before, client_before = _cpu_seconds(pid), time.process_time()
    latencies, statuses, wall = asyncio.run(
        loadgen.run("127.0.0.1", port, ca, path, bodies, concurrency, seconds)
    )
    cpu, client_cpu = _cpu_seconds(pid) - cpu_before, time.process_time() - client_before
    latencies.sort()
    n = len(latencies)
    assert set(statuses) == {200}, statuses
    return {
        "rps": n / wall,
        "p50_ms": _percentile(latencies, 0.50) * 1e3,
        "p90_ms": _percentile(latencies, 0.90) * 1e3,
        "p99_ms": _percentile(latencies, 0.99) * 1e3,
        "cpu_us": cpu / n * 1e6,
        "client_cpu_us": client_cpu / n * 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, action="append")
    parser.add_argument("--scenario", action="append", choices=sorted(payloads.SCENARIOS))
    parser.add_argument(
        "--baseline", action="store_true", help="measure the constant-answer echo server instead"
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin server and load generator to CPUs")
    args = parser.parse_args()
    pin = not args.no_pin and (os.cpu_count() or 1) >= 2
    if pin:
        os.sched_setaffinity(0, {1})
    with tempfile.TemporaryDirectory() as tmp:
        cert_dir = Path(tmp)
        certs_cli.main(
            ["create", "--dir", tmp, "--service", "wh", "--namespace", "bench", "--san", "127.0.0.1"]
        )
        proc, port = _start_server(cert_dir, 0 if pin else None, args.baseline)
        try:
            print(
                "| scenario | concurrency | req/s | p50 ms | p90 ms | p99 ms "
                "| server CPU µs/req | client CPU µs/req |"
            )
            print("| --- | --- | --- | --- | --- | --- | --- | --- |")
            for scenario in args.scenario or list(payloads.SCENARIOS):
                for concurrency in args.concurrency or [1, 16, 64]:
                    runs = [
                        measure(proc.pid, port, str(cert_dir / "ca.crt"), scenario, concurrency, args.seconds)
                        for _ in range(args.runs)
                    ]
                    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
                    print(
                        f"| {scenario} | {concurrency} | {med['rps']:,.0f} | {med['p50_ms']:.2f} | "
                        f"{med['p90_ms']:.2f} | {med['p99_ms']:.2f} | {med['cpu_us']:.0f} | "
                        f"{med['client_cpu_us']:.0f} |",
                        flush=True,
                    )
        finally:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
