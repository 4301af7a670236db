"""The project's wheel: which packages it ships, and the offline tools' extra on its own.

The wheel is built offline from a copy of the working tree (everything git would track, so the
test bed, demo, tests, benchmarks and tools are all there to be left out), the way an image or a
release builds it. The `[cli]` extra is then checked like the images are in test_dockerfiles.py:
the wheel plus only the closure of the project's dependencies and that extra, run with `python -S`.
"""

from __future__ import annotations

import shutil
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.support import wheels
from tools import gen_constraints

REPO_ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
SHIPPED = {"certs", "reconciler", "shared", "webhook"}
CLI_PACKAGES = ["shared", "certs"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    ignored = [line.strip().strip("/") for line in (REPO_ROOT / ".gitignore").read_text().splitlines()]
    tree = tmp / "tree"
    shutil.copytree(REPO_ROOT, tree, ignore=shutil.ignore_patterns(".git", *filter(None, ignored)))
    return wheels.build_wheel(tree, tmp / "dist")


@pytest.fixture(scope="module")
def cli_site(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """site-packages of `pip install 'otterscale-modelservice[cli]'`, reproduced."""
    site = tmp_path_factory.mktemp("cli") / "site"
    wheels.unpack_wheel(wheel, site)
    wheels.link_distributions(gen_constraints.closure(gen_constraints.runtime_requirements(["cli"])), site)
    return site


def test_the_build_backend_the_tests_build_with_is_the_one_the_project_asks_for() -> None:
    for text in PYPROJECT["build-system"]["requires"]:
        requirement = Requirement(text)
        installed = metadata.version(requirement.name)
        assert requirement.specifier.contains(installed), f"{requirement.name} {installed} breaks {text}"


def test_wheel_ships_the_operator_packages_and_nothing_else(wheel: Path) -> None:
    assert wheels.top_level_names(wheel) == SHIPPED


def test_wheel_declares_the_project_commands(wheel: Path, tmp_path: Path) -> None:
    wheels.unpack_wheel(wheel, tmp_path)
    (dist,) = metadata.distributions(path=[str(tmp_path)])
    commands = {ep.name: ep.value for ep in dist.entry_points.select(group="console_scripts")}
    assert commands == PYPROJECT["project"]["scripts"]


@pytest.mark.parametrize("package", CLI_PACKAGES)
def test_offline_tool_starts_with_only_the_cli_extra(package: str, cli_site: Path, tmp_path: Path) -> None:
    result = wheels.run_with_only(cli_site, tmp_path, {}, "-m", package, "--help")
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout


def test_every_offline_tool_module_imports_with_only_the_cli_extra(cli_site: Path, tmp_path: Path) -> None:
    result = wheels.run_with_only(cli_site, tmp_path, {}, "-c", wheels.import_all_script(CLI_PACKAGES))
    assert result.returncode == 0, result.stderr
