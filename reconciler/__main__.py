"""``python -m reconciler``: wiring only (configuration, client, manager, HTTP endpoints, signals)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import signal
import sys
from collections.abc import Sequence

import uvloop
from aiohttp import web

from reconciler import apply, config
from reconciler.manager import LeadershipLost, Manager
from reconciler.runtime import health, logcontext
from reconciler.runtime.client import Client, load_config
from reconciler.runtime.metrics import Metrics

log = logging.getLogger("reconciler")


async def run(cfg: config.ReconcilerConfig) -> int:
    """Run until SIGTERM/SIGINT (exit 0) or until leadership is lost (exit 1)."""
    metrics = Metrics()
    connection = dataclasses.replace(
        load_config(cfg.kubeconfig, cfg.context), qps=cfg.qps, burst=cfg.burst, user_agent=apply.USER_AGENT
    )
    runners: list[web.AppRunner] = []
    async with Client(connection, metrics=metrics) as client:
        manager = Manager(client, cfg.operator, cfg.manager, metrics=metrics)
        main = asyncio.ensure_future(manager.run())
        try:
            runners = await _serve(cfg, manager, main)
            _on_signals(manager, main, cfg.shutdown_timeout)
            await main
        except LeadershipLost as e:
            log.error("exiting: %s", e)
            return 1
        except asyncio.CancelledError:
            log.error("shutdown timed out; in-flight reconciles were cancelled")
            return 1
        finally:
            for runner in runners:
                await runner.cleanup()
    log.info("stopped")
    return 0


async def _serve(
    cfg: config.ReconcilerConfig, manager: Manager, main: asyncio.Future[None]
) -> list[web.AppRunner]:
    runners = []
    probes = config.parse_bind(cfg.health_bind)
    if probes is not None:
        app = health.probes_app(lambda: not main.done(), lambda: manager.synced)
        runner, port = await health.serve(app, *probes)
        runners.append(runner)
        # With port 0 the log line is the only way a supervisor learns where to probe.
        log.info("serving health probes", extra={"host": probes[0], "port": port})
    metrics = config.parse_bind(cfg.metrics_bind)
    if metrics is not None:
        runner, port = await health.serve(health.metrics_app(manager.metrics.registry), *metrics)
        runners.append(runner)
        log.info("serving metrics", extra={"host": metrics[0], "port": port})
    return runners


def _on_signals(manager: Manager, main: asyncio.Future[None], timeout: float) -> None:
    loop = asyncio.get_running_loop()

    def stop() -> None:
        log.info("signal received; stopping")
        manager.stop()
        loop.call_later(timeout, main.cancel)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)


def main(argv: Sequence[str] | None = None) -> int:
    cfg = config.load(argv)
    logcontext.configure(cfg.log_level)
    # uvloop's loop and transports take a good part off the cost of each API request and watch event.
    return uvloop.run(run(cfg))


if __name__ == "__main__":
    sys.exit(main())
