"""Baseline for the benchmark: aiohttp + TLS + uvloop answering a constant AdmissionReview.

The same transport as `python -m webhook` without any admission work, metrics or logging, so the
difference between the two is what the webhook itself costs per request.

    python -m bench.webhook.echo_server CERT_DIR   (prints the bound port as a JSON log line)
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import uvloop
from aiohttp import web

from webhook import tls

ANSWER = (
    b'{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"u","allowed":true}}'
)


async def _answer(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(body=ANSWER, content_type="application/json")


async def main(cert_dir: Path) -> None:
    app = web.Application()
    for path in ("/mutate", "/validate"):
        app.router.add_post(path, _answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(
        runner, "127.0.0.1", 0, ssl_context=tls.server_context(cert_dir / "tls.crt", cert_dir / "tls.key")
    )
    await site.start()
    port = runner.addresses[0][1]
    print(json.dumps({"msg": "webhook serving", "port": port}), file=sys.stderr, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    uvloop.run(main(Path(sys.argv[1])))
