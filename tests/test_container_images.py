"""The container images built and run by a container engine, where one answers.

test_dockerfiles.py checks the images without an engine; here both are built for real and their
entry points run: `--help` for each, and the webhook serves /healthz over HTTPS with a certificate
from certs/, started with its Deployment's arguments, mounts and restrictions. The reconciler gets
`--help` only: it loads a kubeconfig (or the in-cluster configuration) and opens its API client
before it serves its health port, and its liveness follows the manager, which needs an API server.

Skipped, with the reason, where `docker info` does not succeed.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from certs import pki
from tests.test_dockerfiles import REPO_ROOT, SERVICES, deployment_container
from tests.webhook.jsonlog import next_line


def engine_missing() -> str | None:
    """Why no container engine can be used here, or None when `docker info` succeeds."""
    if shutil.which("docker") is None:
        return "no container engine: `docker` is not on PATH"
    try:
        info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30, check=False)
    except subprocess.TimeoutExpired:
        return "no container engine: `docker info` did not answer within 30 s"
    if info.returncode != 0:
        last = (info.stderr.strip().splitlines() or ["no message"])[-1]
        return f"no container engine: `docker info` exited {info.returncode}: {last}"
    return None


MISSING = engine_missing()
pytestmark = pytest.mark.skipif(MISSING is not None, reason=str(MISSING))


def docker(*args: str, timeout: float = 120) -> str:
    """Run `docker *args` and return its standard output; AssertionError with its stderr if it fails."""
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)
    assert result.returncode == 0, f"docker {' '.join(args)}: {result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def images() -> Iterator[dict[str, str]]:
    """Both images built from the repository root, by service; removed afterwards."""
    tags: dict[str, str] = {}
    try:
        for service in SERVICES:
            tag = f"modelservice-{service}:test-{secrets.token_hex(4)}"
            docker("build", "--file", f"Dockerfile.{service}", "--tag", tag, str(REPO_ROOT), timeout=1800)
            tags[service] = tag
        yield tags
    finally:
        for tag in tags.values():
            docker("image", "rm", "--force", tag)


@pytest.mark.parametrize("service", SERVICES)
def test_image_entry_point_prints_help(service: str, images: dict[str, str]) -> None:
    assert "usage:" in docker("run", "--rm", images[service], "--help")


def _entries(container: dict[str, object], key: str) -> list[Any]:
    entries = container[key]
    assert isinstance(entries, list), f"container {key} is not a list"
    return entries


async def test_webhook_image_answers_healthz_over_https(images: dict[str, str], tmp_path: Path) -> None:
    container = deployment_container("webhook")
    ca = pki.create_ca()
    pair = pki.issue_serving_cert(ca, ["localhost"], ["127.0.0.1"])
    tls = tmp_path / "tls"
    tls.mkdir()
    (tls / "tls.crt").write_bytes(pair.cert_pem)
    (tls / "tls.key").write_bytes(pair.key_pem)
    # The image's user is not the test's: like a Secret volume, the files must be readable by it.
    tls.chmod(0o755)
    (tls / "tls.key").chmod(0o644)
    mounts = {m["name"]: m["mountPath"] for m in _entries(container, "volumeMounts")}
    ports = {p["name"]: p["containerPort"] for p in _entries(container, "ports")}
    env = [f"--env={e['name']}={e['value']}" for e in _entries(container, "env")]
    cid = docker(
        "run",
        "--detach",
        # The Deployment's securityContext: read-only root with an emptyDir /tmp, no capabilities.
        "--read-only",
        f"--tmpfs={mounts['tmp']}",
        "--cap-drop=ALL",
        "--security-opt=no-new-privileges",
        f"--volume={tls}:{mounts['webhook-tls']}:ro",
        f"--publish=127.0.0.1::{ports['webhook']}",
        *env,
        images["webhook"],
        *_entries(container, "args"),
    ).strip()
    logs = await asyncio.create_subprocess_exec(
        "docker", "logs", "--follow", cid, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    assert logs.stderr is not None
    try:
        async with asyncio.timeout(60):
            await next_line(logs.stderr, "webhook serving")
            published = await asyncio.to_thread(docker, "port", cid, f"{ports['webhook']}/tcp")
            host, _, port = published.splitlines()[0].rpartition(":")
            ctx = ssl.create_default_context(cadata=ca.cert_pem.decode())
            reader, writer = await asyncio.open_connection(host, int(port), ssl=ctx)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            response = await reader.read()
            writer.close()
            await writer.wait_closed()
            # SIGTERM, as the kubelet stops a pod: the webhook drains and exits 0.
            await asyncio.to_thread(docker, "stop", "--time=30", cid, timeout=60)
            exit_code = await asyncio.to_thread(docker, "wait", cid)
    finally:
        if logs.returncode is None:
            logs.kill()
        await logs.wait()
        await asyncio.to_thread(docker, "rm", "--force", cid)
    assert response.startswith(b"HTTP/1.1 200"), response[:200]
    assert exit_code.strip() == "0"
