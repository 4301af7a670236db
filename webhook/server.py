"""Start and stop the webhook: the HTTPS admission site and the plain-HTTP metrics site.

`WebhookServer` is what `python -m webhook` runs and what the end-to-end test and the benchmark
start on loopback (port 0 picks free ports; `ports` tells which).
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from webhook import guard, tls
from webhook.app import RELOADER_KEY, make_app
from webhook.config import WebhookConfig
from webhook.metrics import WebhookMetrics, make_metrics_app

log = logging.getLogger(__name__)

LINGERING_SECONDS = 2.0


class WebhookServer:
    """The running webhook; `start()` binds both ports, `stop()` drains in-flight requests."""

    def __init__(self, config: WebhookConfig) -> None:
        self.config = config
        self.metrics = WebhookMetrics()
        self.context = tls.server_context(config.cert_file, config.key_file)
        self.reloader = tls.CertReloader(
            self.context,
            config.cert_file,
            config.key_file,
            on_change=self.metrics.set_cert_expiry,
            on_error=self.metrics.cert_reload_errors.inc,
        )
        self.connections: dict[Any, guard.GuardedConnection] = {}
        self.app = make_app(config, self.metrics, self.reloader, self.connections)
        self._runners: list[web.AppRunner] = []
        self.port = 0
        self.metrics_port = 0

    async def start(self) -> None:
        cfg = self.config
        if not cfg.operator.allowed_image_prefixes:
            log.info("image policy: no allowed image prefixes configured; every image is allowed")
        else:
            log.info(
                "image policy active",
                extra={"allowed_image_prefixes": list(cfg.operator.allowed_image_prefixes)},
            )
        self.port = await self._start_site(self.app, cfg.host, cfg.port, self.context)
        if cfg.metrics_port >= 0:
            self.metrics_port = await self._start_site(
                make_metrics_app(self.metrics), cfg.metrics_host, cfg.metrics_port, None
            )
        log.info(
            "webhook serving",
            extra={
                "port": self.port,
                "metrics_port": self.metrics_port,
                "cert_not_after": self.app[RELOADER_KEY].not_after,
            },
        )

    async def _start_site(self, app: web.Application, host: str, port: int, ssl_context: Any) -> int:
        cfg = self.config
        runner = web.AppRunner(
            app,
            access_log=None,
            shutdown_timeout=cfg.shutdown_timeout,
            # aiohttp keeps an idle connection for an hour; the API server drops its own idle ones
            # after 90 s (and retries a request that meets a connection closed while idle).
            keepalive_timeout=cfg.keepalive_timeout,
            # After answering a request whose body was not read (too large, too late), aiohttp
            # reads and drops the rest for this long so the client sees the answer; 10 s by
            # default, which would let a stalled client keep its connection that much longer.
            lingering_time=LINGERING_SECONDS,
        )
        await runner.setup()
        self._runners.append(runner)
        site: web.TCPSite
        if ssl_context is None:  # the metrics site: scraped from inside the cluster, plain HTTP
            site = web.TCPSite(runner, host, port)
        else:
            site = guard.GuardedSite(
                runner,
                host,
                port,
                ssl_context=ssl_context,
                header_timeout=cfg.header_timeout,
                connections=self.connections,
            )
        await site.start()
        return int(runner.addresses[0][1])

    async def stop(self) -> None:
        """Stop accepting, let in-flight requests finish (up to shutdown_timeout), release everything."""
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()
        log.info("webhook stopped")
