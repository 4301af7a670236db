"""The control plane's programs: found in ``KUBEBUILDER_ASSETS`` or built once from Go modules.

Three groups, each built by one ``go build`` in a throw-away module and kept in a per-user cache
keyed by version, so only the first run on a machine pays for the build:

- ``kubernetes``: kube-apiserver, kube-controller-manager, kube-scheduler and kubectl from
  ``k8s.io/kubernetes``. That module points its ``k8s.io/*`` staging modules at folders inside
  its own repository, which a module download does not contain, so the build module replaces
  each of them with the published ``v0.X.Y`` release of the same patch version. The list of
  staging modules is read from the downloaded ``go.mod``, not written down here.
- ``etcd``: the server from ``go.etcd.io/etcd/server/v3`` behind a three-line ``main``; the
  repository's own ``main`` lives in a module that ``go install`` refuses (it has ``replace``).
- ``kwok``: ``sigs.k8s.io/kwok/cmd/kwok``, which fakes nodes and moves Pods through their phases.

``KUBEBUILDER_ASSETS`` (what ``setup-envtest`` leaves: etcd, kube-apiserver, kubectl) wins for
the programs it holds; whatever it lacks comes from the cache or the build.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

KUBERNETES_VERSION = "1.36.3"
"""The ``k8s.io/kubernetes`` release; its staging modules are published as ``v0.36.3``."""
ETCD_VERSION = "3.6.8"
"""The etcd server release that Kubernetes 1.36 pins in its ``go.mod``."""
KWOK_VERSION = "0.8.0"
"""KWOK's release; built against Kubernetes 0.36 client libraries."""

KUBERNETES_PROGRAMS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")
PROGRAMS = ("etcd", *KUBERNETES_PROGRAMS, "kwok")

Progress = Callable[[str], None]


class BinariesError(RuntimeError):
    """A program could not be found or built; the message says what is missing and what to do."""


@dataclass(frozen=True)
class Binaries:
    """Absolute paths of every program the control plane runs."""

    etcd: Path
    kube_apiserver: Path
    kube_controller_manager: Path
    kube_scheduler: Path
    kubectl: Path
    kwok: Path

    def path(self, program: str) -> Path:
        path: Path = getattr(self, program.replace("-", "_"))
        return path


def cache_root(environ: Mapping[str, str] = os.environ) -> Path:
    """Where built programs live: ``$TESTBED_CACHE_DIR``, else the user's cache folder."""
    if explicit := environ.get("TESTBED_CACHE_DIR"):
        return Path(explicit)
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "modelservice-testbed"


def _group_dirs(root: Path) -> dict[str, Path]:
    return {
        "kubernetes": root / f"kubernetes-v{KUBERNETES_VERSION}",
        "etcd": root / f"etcd-v{ETCD_VERSION}",
        "kwok": root / f"kwok-v{KWOK_VERSION}",
    }


GROUP_OF = {"etcd": "etcd", "kwok": "kwok", **dict.fromkeys(KUBERNETES_PROGRAMS, "kubernetes")}


def ensure_binaries(
    progress: Progress = print, environ: Mapping[str, str] = os.environ, root: Path | None = None
) -> Binaries:
    """Every program, building the missing groups (minutes, once per machine and version)."""
    root = root or cache_root(environ)
    assets = Path(environ["KUBEBUILDER_ASSETS"]) if environ.get("KUBEBUILDER_ASSETS") else None
    groups = _group_dirs(root)
    found: dict[str, Path] = {}
    for program in PROGRAMS:
        if assets is not None and _executable(assets / program):
            found[program] = assets / program
    missing_groups = sorted(
        {GROUP_OF[p] for p in PROGRAMS if p not in found and not _complete(groups[GROUP_OF[p]], GROUP_OF[p])}
    )
    if missing_groups:
        go = _go(environ)
        root.mkdir(parents=True, exist_ok=True)
        with _lock(root / ".lock"):
            for group in missing_groups:
                target = groups[group]
                if _complete(target, group):
                    continue  # another process built it while this one waited for the lock
                BUILDERS[group](go, target, progress, environ)
    for program in PROGRAMS:
        found.setdefault(program, groups[GROUP_OF[program]] / program)
    return Binaries(**{p.replace("-", "_"): path for p, path in found.items()})


def _complete(directory: Path, group: str) -> bool:
    """A group's folder only appears whole (it is renamed into place), so its programs suffice."""
    return all(_executable(directory / p) for p in PROGRAMS if GROUP_OF[p] == group)


def kwok_stages(binaries: Binaries) -> list[Path]:
    """The stage files saved beside the kwok program (see ``KWOK_STAGES``)."""
    folder = binaries.kwok.parent / "stages"
    stages = [folder / Path(stage).name for stage in KWOK_STAGES]
    missing = [str(p) for p in stages if not p.is_file()]
    if missing:
        raise BinariesError(
            f"kwok's stage files are missing: {missing}; remove {binaries.kwok.parent} to rebuild"
        )
    return stages


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _go(environ: Mapping[str, str]) -> str:
    go = shutil.which("go", path=environ.get("PATH"))
    if go is None:
        raise BinariesError(
            "the test control plane needs etcd, kube-apiserver, kube-controller-manager, "
            "kube-scheduler, kubectl and kwok, and none are cached; building them needs Go "
            "(1.26 or newer) on PATH. Install Go, or set KUBEBUILDER_ASSETS to a folder holding "
            "etcd, kube-apiserver and kubectl (the rest still need Go)."
        )
    return go


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    """One builder per cache at a time, across processes (a test run and a demo, say)."""
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# ----- building ------------------------------------------------------------------------------------


def _run(argv: list[str], cwd: Path, environ: Mapping[str, str], what: str) -> str:
    env = {"GOFLAGS": "-mod=mod", **environ}
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()
        tail = "\n".join(output.splitlines()[-30:])
        raise BinariesError(f"{what} failed (exit code {result.returncode}): {' '.join(argv)}\n{tail}")
    return result.stdout


@contextlib.contextmanager
def _workspace(target: Path) -> Iterator[tuple[Path, Path]]:
    """A build module folder and an output folder that becomes ``target`` only when complete."""
    with tempfile.TemporaryDirectory(prefix=f".{target.name}-", dir=target.parent) as tmp:
        module, out = Path(tmp) / "module", Path(tmp) / "bin"
        module.mkdir()
        out.mkdir()
        yield module, out
        if target.exists():
            shutil.rmtree(target)
        out.rename(target)


def staging_modules(kubernetes_go_mod: str) -> list[str]:
    """The ``k8s.io/*`` modules that ``k8s.io/kubernetes`` replaces with its own staging folders."""
    return sorted(set(re.findall(r"^\s*(k8s\.io/[\w.-]+)\s+=>\s+\./staging/", kubernetes_go_mod, re.M)))


def kubernetes_build_module(kubernetes_go_mod: str, version: str = KUBERNETES_VERSION) -> str:
    """The ``go.mod`` that builds ``k8s.io/kubernetes`` commands from published modules."""
    staging = f"v0.{version.split('.', 1)[1]}"
    replaces = "".join(f"\t{m} => {m} {staging}\n" for m in staging_modules(kubernetes_go_mod))
    go_line = re.search(r"^go (\S+)$", kubernetes_go_mod, re.M)
    return (
        "module testbed.local/kubernetes\n\n"
        f"go {go_line.group(1) if go_line else '1.26.0'}\n\n"
        f"require k8s.io/kubernetes v{version}\n\n"
        f"replace (\n{replaces})\n"
    )


def _build_kubernetes(go: str, target: Path, progress: Progress, environ: Mapping[str, str]) -> None:
    version = KUBERNETES_VERSION
    progress(
        f"building kube-apiserver, kube-controller-manager, kube-scheduler and kubectl v{version} "
        f"into {target} (first run only; about 5 minutes on 2 cores) ..."
    )
    with _workspace(target) as (module, out):
        progress(f"  downloading k8s.io/kubernetes v{version} ...")
        (module / "go.mod").write_text("module testbed.local/probe\n\ngo 1.26.0\n")
        listing = _run(
            [go, "mod", "download", "-json", f"k8s.io/kubernetes@v{version}"], module, environ, "download"
        )
        go_mod_path = re.search(r'"GoMod":\s*"([^"]+)"', listing)
        if go_mod_path is None:
            raise BinariesError(f"`go mod download` did not report k8s.io/kubernetes's go.mod:\n{listing}")
        (module / "go.mod").write_text(kubernetes_build_module(Path(go_mod_path.group(1)).read_text()))
        packages = [f"k8s.io/kubernetes/cmd/{p}" for p in KUBERNETES_PROGRAMS]
        progress("  resolving dependencies ...")
        _run([go, "get", *(f"{p}@v{version}" for p in packages)], module, environ, "go get")
        major, minor = version.split(".")[:2]
        # Without these the programs report v0.0.0-master, which kubectl warns about as skew
        # and which the API server cannot use as its emulation version.
        pkg = "k8s.io/component-base/version"
        ldflags = (
            f"-s -w -X {pkg}.gitVersion=v{version} -X {pkg}.gitMajor={major} -X {pkg}.gitMinor={minor} "
            f"-X {pkg}.gitTreeState=clean -X {pkg}.buildDate=1970-01-01T00:00:00Z"
        )
        progress("  compiling (go build) ...")
        _run(
            [go, "build", "-trimpath", "-ldflags", ldflags, "-o", f"{out}/", *packages],
            module,
            environ,
            "build",
        )
    progress(f"  done: {', '.join(KUBERNETES_PROGRAMS)}")


ETCD_MAIN = """package main

import (
\t"os"

\t"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
"""


def _build_etcd(go: str, target: Path, progress: Progress, environ: Mapping[str, str]) -> None:
    progress(f"building etcd v{ETCD_VERSION} into {target} (first run only; a few minutes) ...")
    with _workspace(target) as (module, out):
        (module / "go.mod").write_text("module testbed.local/etcd\n\ngo 1.26.0\n")
        (module / "main.go").write_text(ETCD_MAIN)
        _run([go, "get", f"go.etcd.io/etcd/server/v3@v{ETCD_VERSION}"], module, environ, "go get")
        _run([go, "mod", "tidy"], module, environ, "go mod tidy")
        _run(
            [go, "build", "-trimpath", "-ldflags", "-s -w", "-o", str(out / "etcd"), "."],
            module,
            environ,
            "build",
        )
    progress("  done: etcd")


KWOK_STAGES = (
    "kustomize/stage/node/fast/node-initialize.yaml",
    "kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "kustomize/stage/pod/general/pod-create.yaml",
    "kustomize/stage/pod/general/pod-init-container-running.yaml",
    "kustomize/stage/pod/general/pod-init-container-completed.yaml",
    "kustomize/stage/pod/general/pod-ready.yaml",
    "kustomize/stage/pod/general/pod-complete.yaml",
    "kustomize/stage/pod/general/pod-delete.yaml",
)
"""KWOK's published lifecycle stages: nodes become Ready and renew their Leases; Pods go through
init containers to Running and Ready, and are removed once deleted. The binary has none built in."""


def _build_kwok(go: str, target: Path, progress: Progress, environ: Mapping[str, str]) -> None:
    progress(f"building kwok v{KWOK_VERSION} into {target} (first run only; a few minutes) ...")
    module_ref = f"sigs.k8s.io/kwok@v{KWOK_VERSION}"
    with _workspace(target) as (module, out):
        # `go install pkg@version` builds outside any module and refuses -mod flags.
        env = {**environ, "GOBIN": str(out), "GOFLAGS": ""}
        _run(
            [go, "install", "-trimpath", "-ldflags", "-s -w", f"sigs.k8s.io/kwok/cmd/kwok@v{KWOK_VERSION}"],
            module,
            env,
            "go install",
        )
        listing = _run([go, "mod", "download", "-json", module_ref], module, env, "download")
        source = re.search(r'"Dir":\s*"([^"]+)"', listing)
        if source is None:
            raise BinariesError(f"`go mod download` did not report where {module_ref} is:\n{listing}")
        (out / "stages").mkdir()
        for stage in KWOK_STAGES:
            shutil.copyfile(Path(source.group(1)) / stage, out / "stages" / Path(stage).name)
    progress("  done: kwok")


BUILDERS: dict[str, Callable[[str, Path, Progress, Mapping[str, str]], None]] = {
    "kubernetes": _build_kubernetes,
    "etcd": _build_etcd,
    "kwok": _build_kwok,
}
