"""Finding and building the control plane's programs: the parts that need no build to check."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from testbed import binaries
from testbed.binaries import PROGRAMS, BinariesError, ensure_binaries

KUBERNETES_GO_MOD = """module k8s.io/kubernetes

go 1.26.0

require (
\tk8s.io/api v0.0.0
\tgo.etcd.io/etcd/server/v3 v3.6.8 // indirect
)

replace (
\tk8s.io/api => ./staging/src/k8s.io/api
\tk8s.io/client-go => ./staging/src/k8s.io/client-go
\tk8s.io/kube-openapi => k8s.io/kube-openapi v0.0.0-20260101
)
"""


def _fake_program(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_staging_modules_are_read_from_the_kubernetes_go_mod() -> None:
    assert binaries.staging_modules(KUBERNETES_GO_MOD) == ["k8s.io/api", "k8s.io/client-go"]


def test_the_build_module_replaces_each_staging_module_with_its_published_release() -> None:
    module = binaries.kubernetes_build_module(KUBERNETES_GO_MOD, "1.36.3")
    assert "require k8s.io/kubernetes v1.36.3" in module
    assert "\tk8s.io/api => k8s.io/api v0.36.3\n" in module
    assert "\tk8s.io/client-go => k8s.io/client-go v0.36.3\n" in module
    assert "kube-openapi" not in module  # a real replace upstream, not a staging folder
    assert "\ngo 1.26.0\n" in module


def test_the_cache_is_per_user_and_can_be_moved() -> None:
    assert binaries.cache_root({"HOME": "/h", "XDG_CACHE_HOME": "/c"}) == Path("/c/modelservice-testbed")
    assert binaries.cache_root({"TESTBED_CACHE_DIR": "/elsewhere"}) == Path("/elsewhere")


def test_kubebuilder_assets_win_and_a_complete_cache_needs_no_go(tmp_path: Path) -> None:
    assets, cache = tmp_path / "assets", tmp_path / "cache"
    for program in ("etcd", "kube-apiserver", "kubectl"):
        _fake_program(assets / program)
    groups = binaries._group_dirs(cache)
    for program in PROGRAMS:
        _fake_program(groups[binaries.GROUP_OF[program]] / program)
    found = ensure_binaries(lambda _: None, {"KUBEBUILDER_ASSETS": str(assets), "PATH": ""}, cache)
    assert found.etcd == assets / "etcd"
    assert found.kube_apiserver == assets / "kube-apiserver"
    assert found.kubectl == assets / "kubectl"
    # setup-envtest leaves no controller-manager, scheduler or kwok: those come from the cache.
    assert found.kube_scheduler == groups["kubernetes"] / "kube-scheduler"
    assert found.kwok == groups["kwok"] / "kwok"


def test_without_go_the_error_names_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(BinariesError) as caught:
        ensure_binaries(lambda _: None, {"PATH": str(tmp_path)}, tmp_path / "cache")
    message = str(caught.value)
    assert "needs Go" in message
    assert "kube-apiserver" in message
    assert "KUBEBUILDER_ASSETS" in message


def test_a_failed_build_reports_the_go_output_and_leaves_no_half_built_folder(tmp_path: Path) -> None:
    fake_go = _fake_program(tmp_path / "bin" / "go")
    fake_go.write_text("#!/bin/sh\necho 'go: module lookup disabled' >&2\nexit 1\n")
    cache = tmp_path / "cache"
    env = {"PATH": f"{tmp_path / 'bin'}{os.pathsep}/usr/bin:/bin", "HOME": str(tmp_path)}
    lines: list[str] = []
    with pytest.raises(BinariesError, match="module lookup disabled"):
        ensure_binaries(lines.append, env, cache)
    assert any("first run only" in line for line in lines)
    assert sorted(p.name for p in cache.iterdir()) == [".lock"]
