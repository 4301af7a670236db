"""A controller's plain-HTTP endpoints: ``/healthz`` and ``/readyz`` on one port, ``/metrics`` on another.

``/readyz`` and ``/healthz`` answer 200 while the ``ready`` and ``alive`` checks given to
``probes_app`` hold (the reconciler's: every cache synced, on the leader and on standbys alike, and
the manager running). ``/metrics`` is the Prometheus text format of the registry given to
``metrics_app``.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

_CHECK: web.AppKey[Callable[[], bool]] = web.AppKey("ready", Callable[[], bool])  # type: ignore[arg-type]
_ALIVE: web.AppKey[Callable[[], bool]] = web.AppKey("alive", Callable[[], bool])  # type: ignore[arg-type]
_REGISTRY = web.AppKey("registry", CollectorRegistry)


def probes_app(alive: Callable[[], bool], ready: Callable[[], bool]) -> web.Application:
    app = web.Application()
    app[_ALIVE] = alive
    app[_CHECK] = ready
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    return app


def metrics_app(registry: CollectorRegistry) -> web.Application:
    app = web.Application()
    app[_REGISTRY] = registry
    app.router.add_get("/metrics", _metrics)
    return app


async def _healthz(request: web.Request) -> web.Response:
    ok = request.app[_ALIVE]()
    return web.Response(status=200 if ok else 500, text="ok" if ok else "manager stopped")


async def _readyz(request: web.Request) -> web.Response:
    ok = request.app[_CHECK]()
    return web.Response(status=200 if ok else 503, text="ok" if ok else "caches not synced")


async def _metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[_REGISTRY])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def serve(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Start ``app`` on host:port (0 picks a free port); the runner (clean it up) and the bound port."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1] if runner.addresses else port
    return runner, int(bound)
