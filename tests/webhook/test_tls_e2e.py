"""The real server on 127.0.0.1 over TLS with certificates from `certs`, including live rotation."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from certs import pki
from tests.webhook import samples
from webhook.config import WebhookConfig
from webhook.server import WebhookServer


class Connection:
    """One keep-alive HTTPS connection speaking just enough HTTP/1.1."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int, ca_pem: bytes) -> Connection:
        ctx = ssl.create_default_context(cadata=ca_pem.decode())
        async with asyncio.timeout(10):
            reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx)
        return cls(reader, writer)

    def peer_serial(self) -> int:
        der = self.writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        return x509.load_der_x509_certificate(der).serial_number

    async def post(self, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        head = f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        self.writer.write(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
        async with asyncio.timeout(10):
            raw_head = await self.reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":")[1])
                for line in raw_head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
            payload = await self.reader.readexactly(length)
        return int(raw_head[9:12]), json.loads(payload)

    async def close(self) -> None:
        self.writer.close()
        async with asyncio.timeout(10):
            await self.writer.wait_closed()


def _write(pair: pki.KeyPair, tmp_path: Path) -> None:
    (tmp_path / "tls.key").write_bytes(pair.key_pem)
    (tmp_path / "tls.crt").write_bytes(pair.cert_pem)


@pytest.fixture
def ca() -> pki.KeyPair:
    return pki.create_ca()


@pytest.fixture
async def server(tmp_path: Path, ca: pki.KeyPair) -> AsyncIterator[WebhookServer]:
    _write(pki.issue_serving_cert(ca, ["localhost"], ["127.0.0.1"]), tmp_path)
    config = WebhookConfig(
        host="127.0.0.1",
        port=0,
        metrics_host="127.0.0.1",
        metrics_port=0,
        cert_file=tmp_path / "tls.crt",
        key_file=tmp_path / "tls.key",
        cert_poll_seconds=0,  # the test triggers the reload itself instead of waiting for a poll
    )
    srv = WebhookServer(config)
    await srv.start()
    yield srv
    await srv.stop()


async def test_tls_chain_verifies_and_admission_works(server: WebhookServer, ca: pki.KeyPair) -> None:
    conn = await Connection.open(server.port, ca.cert_pem)
    status, body = await conn.post("/mutate", json.dumps(samples.review(samples.minimal())).encode())
    await conn.close()
    assert status == 200
    assert body["response"] == {**body["response"], "uid": "uid-1", "allowed": True, "patchType": "JSONPatch"}


async def test_a_client_trusting_another_ca_is_refused(server: WebhookServer) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        await Connection.open(server.port, pki.create_ca().cert_pem)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the client side must ask for TLS 1.0/1.1
async def test_tls_below_1_2_is_refused(server: WebhookServer, ca: pki.KeyPair) -> None:
    ctx = ssl.create_default_context(cadata=ca.cert_pem.decode())
    ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises(ssl.SSLError):
        async with asyncio.timeout(10):
            await asyncio.open_connection("127.0.0.1", server.port, ssl=ctx)


async def test_rotation_serves_the_new_certificate_and_keeps_open_connections(
    server: WebhookServer, ca: pki.KeyPair, tmp_path: Path
) -> None:
    body = json.dumps(samples.review(samples.minimal())).encode()
    old_conn = await Connection.open(server.port, ca.cert_pem)
    old_serial = old_conn.peer_serial()
    assert (await old_conn.post("/validate", body))[0] == 200

    rotated = pki.issue_serving_cert(ca, ["localhost"], ["127.0.0.1"])
    _write(rotated, tmp_path)
    assert server.reloader.reload_if_changed() is True
    assert server.reloader.reload_if_changed() is False

    new_conn = await Connection.open(server.port, ca.cert_pem)
    assert new_conn.peer_serial() == x509.load_pem_x509_certificate(rotated.cert_pem).serial_number
    assert new_conn.peer_serial() != old_serial
    assert (await new_conn.post("/validate", body))[0] == 200
    assert (await old_conn.post("/validate", body))[0] == 200
    assert old_conn.peer_serial() == old_serial
    await old_conn.close()
    await new_conn.close()
    assert server.metrics.cert_expiry._value.get() == pki.not_after(rotated.cert_pem).timestamp()


async def test_a_mismatched_pair_mid_rotation_keeps_the_current_certificate(
    server: WebhookServer, ca: pki.KeyPair, tmp_path: Path
) -> None:
    first = await Connection.open(server.port, ca.cert_pem)
    serial_before = first.peer_serial()
    await first.close()
    other = pki.issue_serving_cert(ca, ["localhost"], ["127.0.0.1"])
    (tmp_path / "tls.crt").write_bytes(other.cert_pem)  # key not rotated yet
    assert server.reloader.reload_if_changed() is False
    conn = await Connection.open(server.port, ca.cert_pem)
    assert conn.peer_serial() == serial_before
    await conn.close()
    assert server.metrics.cert_reload_errors._value.get() == 1.0


async def test_metrics_port_serves_prometheus_text(server: WebhookServer, ca: pki.KeyPair) -> None:
    async with asyncio.timeout(10):
        reader, writer = await asyncio.open_connection("127.0.0.1", server.metrics_port)
        writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        text = (await reader.read()).decode()
    writer.close()
    assert text.startswith("HTTP/1.1 200")
    assert "webhook_certificate_expiry_timestamp_seconds" in text


async def test_shutdown_lets_an_in_flight_request_finish(tmp_path: Path, ca: pki.KeyPair) -> None:
    _write(pki.issue_serving_cert(ca, ["localhost"], ["127.0.0.1"]), tmp_path)
    srv = WebhookServer(
        WebhookConfig(
            host="127.0.0.1",
            port=0,
            metrics_port=-1,
            cert_file=tmp_path / "tls.crt",
            key_file=tmp_path / "tls.key",
            cert_poll_seconds=0,
            shutdown_timeout=10,
        )
    )
    await srv.start()
    conn = await Connection.open(srv.port, ca.cert_pem)
    body = json.dumps(samples.review(samples.minimal())).encode()
    head = (
        "POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    # Headers and half the body: the handler is running and waits for the rest.
    conn.writer.write(head.encode() + body[:10])
    await conn.writer.drain()
    async with asyncio.timeout(10):
        while srv.metrics.in_flight < 1:
            await asyncio.sleep(0)
    stopping = asyncio.create_task(srv.stop())
    conn.writer.write(body[10:])
    async with asyncio.timeout(10):
        raw_head = await conn.reader.readuntil(b"\r\n\r\n")
        await stopping
    assert raw_head.startswith(b"HTTP/1.1 200")
    conn.writer.close()
