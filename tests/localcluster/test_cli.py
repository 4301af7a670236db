"""`python -m localcluster`: serving line, kubeconfig, third-party CRDs, manifests, clean exit."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
import yaml

from localcluster.__main__ import build_parser, parse_service_host

REPO = Path(__file__).resolve().parents[2]


@asynccontextmanager
async def server(*args: str) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "localcluster",
        *args,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    try:
        async with asyncio.timeout(20):
            line = ""
            while "serving on" not in line:
                raw = await proc.stdout.readline()
                if not raw:
                    raise AssertionError(f"server exited: {(await proc.communicate())[1].decode()}")
                line = raw.decode()
        yield proc, line.rsplit(" ", 1)[-1].strip()
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            async with asyncio.timeout(10):
                await proc.wait()


async def test_cli_serves_writes_a_kubeconfig_and_exits_cleanly(tmp_path: Path) -> None:
    crd_file = tmp_path / "objects.yaml"
    crd_file.write_text(
        yaml.safe_dump_all(
            [
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "seeded", "namespace": "demo"},
                },
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}},
            ]
        )
    )
    config = tmp_path / "kubeconfig"
    async with server(
        "--port", "0", "--kubeconfig", str(config), "--third-party-crds", "--manifest", str(crd_file)
    ) as (proc, url):
        assert yaml.safe_load(config.read_text())["clusters"][0]["cluster"]["server"] == url
        async with aiohttp.ClientSession(url) as http:
            async with http.get("/apis/inference.networking.k8s.io/v1") as resp:
                assert [r["name"] for r in (await resp.json())["resources"]] == [
                    "inferencepools",
                    "inferencepools/status",
                ]
            async with http.get("/api/v1/namespaces/demo/configmaps/seeded") as resp:
                assert resp.status == 200
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(10):
            assert await proc.wait() == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hook.system:443=127.0.0.1:9443", ("hook.system:443", "127.0.0.1:9443")),
        ("hook.system=127.0.0.1:9443", ("hook.system", "127.0.0.1:9443")),
    ],
    ids=["with-port", "any-port"],
)
def test_service_host_flags_parse(text: str, expected: tuple[str, str]) -> None:
    assert parse_service_host(text) == expected


@pytest.mark.parametrize(
    "text",
    ["hook.system", "hook=127.0.0.1:1", "hook.system=nowhere"],
    ids=["no-target", "no-namespace", "no-port"],
)
def test_malformed_service_host_flags_are_rejected(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["--service-host", text])
    assert info.value.code == 2
    assert "--service-host" in capsys.readouterr().err


async def test_missing_manifest_file_is_a_clear_error(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "localcluster",
        "--manifest",
        str(tmp_path / "absent.yaml"),
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(20):
        _, err = await proc.communicate()
    assert proc.returncode == 2
    assert "absent.yaml: no such file" in err.decode()
