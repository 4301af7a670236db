"""The project's wheel, and Python runs that can import only chosen distributions.

The packaging checks build the wheel offline with the installed build backend, unpack it into a
stand-in site-packages, link in the installed distributions an install would pull in, and run
`python -S` on that directory alone, so an undeclared dependency fails as it would in an image.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path


def build_wheel(project: Path, out: Path) -> Path:
    """The wheel of the project in `project`, built into `out` without network or build isolation.

    setuptools builds in the source tree (build/, *.egg-info), so `project` should be a copy.
    """
    offline = ["--no-deps", "--no-index", "--no-build-isolation"]
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", *offline, "--wheel-dir", str(out), str(project)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"building the wheel of {project} failed:\n{result.stderr}")
    (wheel,) = out.glob("*.whl")
    return wheel


def top_level_names(wheel: Path) -> set[str]:
    """The packages and modules a wheel installs at the top of site-packages (not its metadata)."""
    with zipfile.ZipFile(wheel) as archive:
        tops = {name.split("/", 1)[0] for name in archive.namelist()}
    return {top.removesuffix(".py") for top in tops if not top.endswith((".dist-info", ".data"))}


def unpack_wheel(wheel: Path, site: Path) -> None:
    """Put a pure-Python wheel's files where pip would put them in site-packages."""
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)


def link_distributions(names: Iterable[str], site: Path) -> None:
    """Add to `site` links to the top-level entries of the installed distributions `names`."""
    site.mkdir(exist_ok=True)
    for name in names:
        dist = metadata.distribution(name)
        tops = {Path(f).parts[0] for f in dist.files or []} - {"__pycache__"}
        for top in sorted(t for t in tops if not t.startswith("..")):
            if not (site / top).exists():
                (site / top).symlink_to(Path(str(dist.locate_file(top))))


def run_with_only(
    site: Path, cwd: Path, env: Mapping[str, str], *argv: str
) -> subprocess.CompletedProcess[str]:
    """`python -S *argv` with `site` as the only place to import from besides the standard library."""
    # -S: no site-packages of the test environment, so only what `site` holds can be imported.
    return subprocess.run(
        [sys.executable, "-S", *argv],
        cwd=cwd,
        env={**env, "PYTHONPATH": str(site), "HOME": str(cwd)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def import_all_script(packages: Iterable[str]) -> str:
    """Python source that imports every module of `packages` except `__main__` modules.

    Catches imports in modules that `--help` never loads.
    """
    lines = ["import importlib, pkgutil"]
    for package in packages:
        lines += [
            f"import {package}",
            f"for m in pkgutil.walk_packages({package}.__path__, '{package}.'):",
            "    if not m.name.endswith('__main__'):",
            "        importlib.import_module(m.name)",
        ]
    return "\n".join(lines) + "\n"
