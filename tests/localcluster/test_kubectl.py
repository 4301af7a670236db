"""Real kubectl against the local API server: get, apply, server-side dry runs, delete, watch."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from localcluster import LocalCluster
from tests.localcluster.conftest import widget, widget_crd

Manifest = dict[str, Any]

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: main
        image: nginx:1.27
        ports: [{containerPort: 80}]
"""


@dataclass
class Ran:
    code: int
    out: str
    err: str


Kubectl = Callable[..., Awaitable[Ran]]


@pytest.fixture
def kubectl_bin() -> str:
    found = shutil.which("kubectl")
    if found is None:
        pytest.fail("kubectl is not on PATH; install it (make kubectl) to run the kubectl tests")
    return found


@pytest.fixture
def kubectl(kubectl_bin: str, local_cluster: LocalCluster, tmp_path: Path) -> Kubectl:
    config = local_cluster.write_kubeconfig(tmp_path / "kubeconfig")
    env = {**os.environ, "KUBECONFIG": str(config), "HOME": str(tmp_path)}

    async def run(*args: str, stdin: str | None = None) -> Ran:
        proc = await asyncio.create_subprocess_exec(
            kubectl_bin,
            "--cache-dir",
            str(tmp_path / "cache"),
            *args,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        async with asyncio.timeout(30):
            out, err = await proc.communicate(stdin.encode() if stdin is not None else None)
        return Ran(proc.returncode or 0, out.decode(), err.decode())

    return run


async def test_get_lists_namespaces_as_a_table(kubectl: Kubectl) -> None:
    ran = await kubectl("get", "namespaces")
    assert ran.code == 0, ran.err
    header, *rows = ran.out.splitlines()
    assert header.split() == ["NAME", "STATUS", "AGE"]
    assert next(r.split()[:2] for r in rows if r.startswith("default")) == ["default", "Active"]


async def test_apply_creates_then_configures(kubectl: Kubectl, local_cluster: LocalCluster) -> None:
    first = await kubectl("apply", "-f", "-", stdin=DEPLOYMENT)
    assert (first.code, first.out.strip()) == (0, "deployment.apps/web created"), first.err
    second = await kubectl("apply", "-f", "-", stdin=DEPLOYMENT.replace("replicas: 2", "replicas: 4"))
    assert (second.code, second.out.strip()) == (0, "deployment.apps/web configured"), second.err
    stored = local_cluster.get("apps/v1", "Deployment", "web", "default")
    assert stored is not None and stored["spec"]["replicas"] == 4
    assert "kubectl.kubernetes.io/last-applied-configuration" in stored["metadata"]["annotations"]
    unchanged = await kubectl("apply", "-f", "-", stdin=DEPLOYMENT.replace("replicas: 2", "replicas: 4"))
    assert unchanged.out.strip() == "deployment.apps/web unchanged"


async def test_get_output_yaml_shows_the_stored_object(kubectl: Kubectl) -> None:
    await kubectl("apply", "-f", "-", stdin=DEPLOYMENT)
    ran = await kubectl("get", "deployment", "web", "-o", "yaml")
    obj = yaml.safe_load(ran.out)
    assert (obj["kind"], obj["metadata"]["name"], obj["spec"]["replicas"]) == ("Deployment", "web", 2)
    assert (
        obj["spec"]["template"]["spec"]["containers"][0]["terminationMessagePath"] == "/dev/termination-log"
    )


async def test_create_dry_run_server_prints_without_storing(
    kubectl: Kubectl, local_cluster: LocalCluster
) -> None:
    ran = await kubectl("create", "--dry-run=server", "-o", "yaml", "-f", "-", stdin=DEPLOYMENT)
    assert ran.code == 0, ran.err
    obj = yaml.safe_load(ran.out)
    assert obj["metadata"]["uid"] and obj["spec"]["strategy"]["type"] == "RollingUpdate"
    assert local_cluster.get("apps/v1", "Deployment", "web", "default") is None


async def test_apply_dry_run_server_changes_nothing(kubectl: Kubectl, local_cluster: LocalCluster) -> None:
    await kubectl("apply", "-f", "-", stdin=DEPLOYMENT)
    ran = await kubectl(
        "apply", "--dry-run=server", "-f", "-", stdin=DEPLOYMENT.replace("replicas: 2", "replicas: 9")
    )
    assert ran.out.strip() == "deployment.apps/web configured (server dry run)", ran.err
    stored = local_cluster.get("apps/v1", "Deployment", "web", "default")
    assert stored is not None and stored["spec"]["replicas"] == 2


async def test_delete_removes_the_object(kubectl: Kubectl, local_cluster: LocalCluster) -> None:
    await kubectl("apply", "-f", "-", stdin=DEPLOYMENT)
    ran = await kubectl("delete", "deployment", "web")
    assert (ran.code, ran.out.strip()) == (0, 'deployment.apps "web" deleted'), ran.err
    assert local_cluster.get("apps/v1", "Deployment", "web", "default") is None


async def test_errors_reach_kubectl_with_the_server_message(kubectl: Kubectl) -> None:
    ran = await kubectl("get", "deployment", "missing")
    assert ran.code == 1
    assert 'Error from server (NotFound): deployments.apps "missing" not found' in ran.err


async def test_custom_resources_print_their_columns(kubectl: Kubectl, local_cluster: LocalCluster) -> None:
    await local_cluster.install_crd(widget_crd())
    await local_cluster.create(widget("w", size=5))
    ran = await kubectl("get", "wd")
    header, row = ran.out.splitlines()
    assert header.split() == ["NAME", "SIZE", "AGE"] and row.split()[:2] == ["w", "5"], ran.err


async def test_get_watch_prints_new_objects(
    kubectl_bin: str, kubectl: Kubectl, local_cluster: LocalCluster, tmp_path: Path
) -> None:
    await kubectl("get", "configmaps")  # warm the discovery cache so the watch starts quickly
    env = {**os.environ, "KUBECONFIG": str(tmp_path / "kubeconfig"), "HOME": str(tmp_path)}
    proc = await asyncio.create_subprocess_exec(
        kubectl_bin,
        "--cache-dir",
        str(tmp_path / "cache"),
        "get",
        "configmaps",
        "-w",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    try:
        async with asyncio.timeout(20):
            while not list(local_cluster.store.subscribers(("", "configmaps"))):
                await asyncio.sleep(0.02)
            await local_cluster.create(
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "watched"}, "data": {"a": "1"}}
            )
            line = ""
            while "watched" not in line:
                line = (await proc.stdout.readline()).decode()
    finally:
        proc.terminate()
        await proc.wait()
    assert line.split()[:2] == ["watched", "1"]
