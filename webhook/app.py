"""The aiohttp application: admission routes, health probes, request accounting.

Thin on purpose: reading the body and timing the request happen here; deciding happens in
`webhook.handling` and `webhook.admission`. State lives under `web.AppKey`s; the certificate
poller runs as a `cleanup_ctx` task so it stops with the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from webhook import admission, handling
from webhook.config import WebhookConfig
from webhook.metrics import METRICS_KEY, WebhookMetrics
from webhook.tls import CertReloader

log = logging.getLogger(__name__)

MUTATE_PATHS = ("/mutate", "/mutate-model-otterscale-io-v1alpha1-modelservice")
VALIDATE_PATHS = ("/validate", "/validate-model-otterscale-io-v1alpha1-modelservice")


@dataclass
class State:
    """Mutable run state: ready flips off when shutdown starts so probes drain traffic first."""

    ready: bool = True


CONFIG_KEY = web.AppKey("config", WebhookConfig)
MEMOS_KEY = web.AppKey("memos", admission.Memos)
STATE_KEY = web.AppKey("state", State)
RELOADER_KEY = web.AppKey("reloader", CertReloader)


def _admission_handler(hook: admission.Hook) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        app = request.app
        config, metrics = app[CONFIG_KEY], app[METRICS_KEY]
        start = time.perf_counter()
        metrics.in_flight += 1
        try:
            answer = await _answer(request, hook, config, app[MEMOS_KEY])
        finally:
            metrics.in_flight -= 1
        metrics.observe(hook, answer.operation, answer.verdict, time.perf_counter() - start, answer.reason)
        _log(hook, answer)
        return web.Response(status=answer.status, body=answer.body, content_type="application/json")

    return handler


async def _answer(
    request: web.Request, hook: admission.Hook, config: WebhookConfig, memos: admission.Memos
) -> handling.Answer:
    limit = config.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        return handling.bad_request(f"body of {request.content_length} bytes exceeds the limit of {limit}")
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return handling.bad_request(f"body exceeds the limit of {limit} bytes")
    return handling.handle(
        body,
        request.content_type,
        hook,
        config.operator,
        persist_images=config.persist_default_images,
        memos=memos,
    )


def _log(hook: str, answer: handling.Answer) -> None:
    fields = {"uid": answer.uid, "hook": hook, "operation": answer.operation, "verdict": answer.verdict}
    if answer.reason:
        # The message can quote object values; only DEBUG carries it.
        if log.isEnabledFor(logging.DEBUG):
            fields["message"] = answer.message
        log.info("admission %s", answer.verdict, extra={**fields, "reason": answer.reason})
    elif log.isEnabledFor(logging.DEBUG):
        log.debug("admission %s", answer.verdict, extra=fields)


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _readyz(request: web.Request) -> web.Response:
    if request.app[STATE_KEY].ready:
        return web.json_response({"status": "ready"})
    return web.json_response({"status": "shutting down"}, status=503)


async def _poll_certificates(app: web.Application) -> AsyncIterator[None]:
    reloader = app.get(RELOADER_KEY)
    interval = app[CONFIG_KEY].cert_poll_seconds
    task = asyncio.create_task(reloader.run(interval)) if reloader is not None and interval > 0 else None
    yield
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _not_ready(app: web.Application) -> None:
    app[STATE_KEY].ready = False


def make_app(
    config: WebhookConfig, metrics: WebhookMetrics | None = None, reloader: CertReloader | None = None
) -> web.Application:
    """The admission app; pass the `reloader` of the TLS context the site serves with."""
    # One byte over the limit lets `read()` tell "exactly at the limit" from "over it".
    app = web.Application(client_max_size=config.max_body_bytes + 1)
    app[CONFIG_KEY] = config
    app[METRICS_KEY] = metrics if metrics is not None else WebhookMetrics()
    app[STATE_KEY] = State()
    app[MEMOS_KEY] = admission.Memos()  # for `config.operator`, which never changes while serving
    if reloader is not None:
        app[RELOADER_KEY] = reloader
    for path in MUTATE_PATHS:
        app.router.add_post(path, _admission_handler("mutate"))
    for path in VALIDATE_PATHS:
        app.router.add_post(path, _admission_handler("validate"))
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.cleanup_ctx.append(_poll_certificates)
    app.on_shutdown.append(_not_ready)
    return app
