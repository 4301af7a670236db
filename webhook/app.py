"""The aiohttp application: admission routes, health probes, request accounting.

Thin on purpose: reading the body and timing the request happen here; deciding happens in
`webhook.handling` and `webhook.admission`. State lives under `web.AppKey`s; the certificate
poller runs as a `cleanup_ctx` task so it stops with the app.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from webhook import admission, guard, handling, logs
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


INLINE_BODY_BYTES = 8 * 1024
"""Bodies up to this size are judged on the event loop (a real ModelService is 1-5 kB and takes
well under a millisecond); larger ones in a worker thread, so a hostile body that takes a second to
judge cannot hold up health probes and other requests for more than a GIL switch interval."""


@dataclass
class Limits:
    """What bounds the requests of one app: the byte budget, the worker, the guarded connections."""

    budget: guard.BytesBudget
    worker: concurrent.futures.ThreadPoolExecutor
    connections: dict[Any, guard.GuardedConnection]


CONFIG_KEY = web.AppKey("config", WebhookConfig)
MEMOS_KEY = web.AppKey("memos", admission.Memos)
ANSWERS_KEY = web.AppKey("answers", handling.Answers)
STATE_KEY = web.AppKey("state", State)
RELOADER_KEY = web.AppKey("reloader", CertReloader)
LIMITS_KEY = web.AppKey("limits", Limits)


def _admission_handler(hook: admission.Hook) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        app = request.app
        config, metrics, limits = app[CONFIG_KEY], app[METRICS_KEY], app[LIMITS_KEY]
        start = time.perf_counter()
        connection = limits.connections.get(request.transport)
        if connection is not None:
            connection.busy()
        metrics.in_flight += 1
        try:
            answer = await _answer(request, hook, config, app[MEMOS_KEY], app[ANSWERS_KEY], limits)
        finally:
            metrics.in_flight -= 1
            if connection is not None:
                connection.idle()
        metrics.observe(hook, answer.operation, answer.verdict, time.perf_counter() - start, answer.reason)
        _log(hook, answer)
        response = web.Response(status=answer.status, body=answer.body, content_type="application/json")
        if answer.status == 408:
            response.force_close()  # the rest of a late body would be read as the next request
        return response

    return handler


async def _answer(
    request: web.Request,
    hook: admission.Hook,
    config: WebhookConfig,
    memos: admission.Memos,
    answers: handling.Answers,
    limits: Limits,
) -> handling.Answer:
    limit = config.max_body_bytes
    declared = request.content_length
    if declared is not None and declared > limit:
        return handling.bad_request(f"body of {declared} bytes exceeds the limit of {limit}")
    wanted = declared if declared is not None else limit
    reserved = limits.budget.try_acquire(wanted)
    if reserved is None:
        reserved = await limits.budget.acquire(wanted)
    try:
        content = request.content
        if declared is not None and content.is_eof():
            # The whole body came with the headers, as an ordinary ModelService's does: take it
            # from the buffer without the read loop's awaits. The limit still applies to what
            # was buffered, which a compressed body can make larger than it declared.
            body = content.read_nowait()
            if len(body) > limit:
                return handling.bad_request(f"body exceeds the limit of {limit} bytes")
        else:
            try:
                async with asyncio.timeout(config.body_timeout):
                    body = await request.read()
            except web.HTTPRequestEntityTooLarge:
                return handling.bad_request(f"body exceeds the limit of {limit} bytes")
            except TimeoutError:
                return handling.bad_request(f"body not received within {config.body_timeout:g} s", status=408)
            except ConnectionError:
                # The client went away mid-body (the API server gave up on a timeout, say): one
                # line, not aiohttp's traceback; the answer goes nowhere.
                log.info("client disconnected before sending the whole body", extra={"hook": hook})
                return handling.bad_request("client disconnected before sending the whole body")
        # The header as sent is what the API server always sends; only anything else is parsed.
        content_type = request.headers.get("Content-Type")
        if content_type not in handling.JSON_TYPES:
            content_type = request.content_type
        judge = functools.partial(
            handling.handle,
            body,
            content_type,
            hook,
            config.operator,
            persist_images=config.persist_default_images,
        )
        if len(body) <= INLINE_BODY_BYTES:
            return judge(memos=memos, answers=answers)
        # The memories are not thread-safe, and content this large is not remembered anyway.
        return await asyncio.get_running_loop().run_in_executor(limits.worker, judge)
    finally:
        limits.budget.release(reserved)


def _log(hook: str, answer: handling.Answer) -> None:
    fields = {
        "uid": answer.uid,
        "hook": hook,
        "operation": answer.operation,
        "verdict": answer.verdict,
        "user": answer.user,
        "object": answer.target,
    }
    if answer.reason or answer.verdict == "warned":
        # Denials and warnings are what an operator looks for: INFO, with who asked for what.
        # The message can quote object values; only DEBUG carries it. Not as `message`: a
        # LogRecord owns that name, and logging refuses an extra field that would overwrite it.
        if log.isEnabledFor(logging.DEBUG):
            fields["detail"] = answer.message
        fields["reason"] = answer.reason
        logs.info(log, f"admission {answer.verdict}", fields)
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


async def _stop_worker(app: web.Application) -> None:
    app[LIMITS_KEY].worker.shutdown(wait=True, cancel_futures=True)


async def _not_ready(app: web.Application) -> None:
    app[STATE_KEY].ready = False


def make_app(
    config: WebhookConfig,
    metrics: WebhookMetrics | None = None,
    reloader: CertReloader | None = None,
    connections: dict[Any, guard.GuardedConnection] | None = None,
) -> web.Application:
    """The admission app; pass the `reloader` of the TLS context the site serves with, and the
    `connections` of the `guard.GuardedSite` serving it."""
    # One byte over the limit lets `read()` tell "exactly at the limit" from "over it".
    app = web.Application(client_max_size=config.max_body_bytes + 1)
    app[CONFIG_KEY] = config
    app[METRICS_KEY] = metrics if metrics is not None else WebhookMetrics()
    app[STATE_KEY] = State()
    # For `config.operator` and `config.persist_default_images`, which never change while serving.
    app[MEMOS_KEY] = admission.Memos()
    app[ANSWERS_KEY] = handling.Answers()
    app[LIMITS_KEY] = Limits(
        guard.BytesBudget(config.max_bytes_in_flight),
        # One thread: large bodies are judged one at a time, which also bounds their memory.
        concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="judge"),
        connections if connections is not None else {},
    )
    if reloader is not None:
        app[RELOADER_KEY] = reloader
    for path in MUTATE_PATHS:
        app.router.add_post(path, _admission_handler("mutate"))
    for path in VALIDATE_PATHS:
        app.router.add_post(path, _admission_handler("validate"))
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.cleanup_ctx.append(_poll_certificates)
    app.on_cleanup.append(_stop_worker)
    app.on_shutdown.append(_not_ready)
    return app
