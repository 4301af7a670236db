"""A programmable HTTPS admission webhook for the admission-chain tests.

It serves every path with TLS (certificate from the project's `certs.pki`, valid for 127.0.0.1
and `hook.system.svc`), records each AdmissionReview it receives with the query string, and
answers with whatever the test's `respond(path, request)` returns (merged into a response that
echoes the uid and allows by default).
"""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from certs import pki

Manifest = dict[str, Any]
Responder = Callable[[str, Manifest], Manifest]


def json_patch(*ops: Manifest) -> Manifest:
    """The response fields of a mutating webhook that applies `ops`."""
    return {"patchType": "JSONPatch", "patch": base64.b64encode(json.dumps(list(ops)).encode()).decode()}


def _allow(_path: str, _request: Manifest) -> Manifest:
    return {}


@dataclass
class Call:
    path: str
    query: dict[str, str]
    request: Manifest


@dataclass
class WebhookServer:
    ca_pem: bytes
    port: int = 0
    calls: list[Call] = field(default_factory=list)
    responders: dict[str, Responder] = field(default_factory=dict)
    hold: bool = False  # keep requests waiting until teardown (a webhook that never answers in time)
    released: asyncio.Event = field(default_factory=asyncio.Event)
    in_flight: int = 0

    @property
    def ca_bundle(self) -> str:
        return base64.b64encode(self.ca_pem).decode()

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    def calls_to(self, path: str) -> list[Manifest]:
        return [c.request for c in self.calls if c.path == path]

    async def handle(self, request: web.Request) -> web.Response:
        review = await request.json()
        self.calls.append(Call(request.path, dict(request.query), review["request"]))
        if self.hold:
            self.in_flight += 1
            try:
                await self.released.wait()
            finally:
                self.in_flight -= 1
        responder: Responder = self.responders.get(request.path, _allow)
        response = {
            "uid": review["request"]["uid"],
            "allowed": True,
            **responder(request.path, review["request"]),
        }
        return web.json_response(
            {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}
        )


@asynccontextmanager
async def webhook_server() -> AsyncIterator[WebhookServer]:
    ca = pki.create_ca()
    serving = pki.issue_serving_cert(ca, ["hook.system.svc"], ip_addresses=["127.0.0.1"])
    server = WebhookServer(ca.cert_pem)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = Path(tmp, "tls.crt"), Path(tmp, "tls.key")
        cert.write_bytes(serving.cert_pem)
        key.write_bytes(serving.key_pem)
        context.load_cert_chain(cert, key)
    app = web.Application()
    app.router.add_post("/{tail:.*}", server.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    server.port = int(runner.addresses[0][1])
    try:
        yield server
    finally:
        server.released.set()
        async with asyncio.timeout(5):
            while server.in_flight:
                await asyncio.sleep(0.01)
        await runner.cleanup()


def config(kind: str, name: str, hooks: list[Manifest]) -> Manifest:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": name},
        "webhooks": hooks,
    }


def hook(
    name: str,
    client_config: Manifest,
    resources: list[str],
    operations: list[str] | None = None,
    groups: list[str] | None = None,
    **extra: Any,
) -> Manifest:
    return {
        "name": name,
        "clientConfig": client_config,
        "rules": [
            {
                "operations": operations or ["CREATE", "UPDATE"],
                "apiGroups": groups or ["*"],
                "apiVersions": ["*"],
                "resources": resources,
            }
        ],
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
        **extra,
    }
