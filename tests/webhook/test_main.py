"""`python -m webhook` as a process: starts on free ports, answers over TLS, exits cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import signal
import ssl
import sys
from pathlib import Path

from certs import pki
from tests.webhook import samples
from tests.webhook.jsonlog import next_line


async def test_module_serves_and_drains_on_sigterm(tmp_path: Path) -> None:
    ca = pki.create_ca()
    pair = pki.issue_serving_cert(ca, ["localhost"], ["127.0.0.1"])
    (tmp_path / "tls.crt").write_bytes(pair.cert_pem)
    (tmp_path / "tls.key").write_bytes(pair.key_pem)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "webhook",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--metrics-port",
        "-1",
        env={"WEBHOOK_CERT_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None
    try:
        async with asyncio.timeout(30):
            serving = await next_line(proc.stderr, "webhook serving")
            ctx = ssl.create_default_context(cadata=ca.cert_pem.decode())
            reader, writer = await asyncio.open_connection("127.0.0.1", int(str(serving["port"])), ssl=ctx)
            body = json.dumps(samples.review(samples.minimal(), uid="from-test")).encode()
            writer.write(
                b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            response = await reader.read()
            writer.close()
            proc.send_signal(signal.SIGTERM)
            await next_line(proc.stderr, "webhook stopped")
            assert await proc.wait() == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert response.startswith(b"HTTP/1.1 200")
    assert b'"uid":"from-test"' in response
