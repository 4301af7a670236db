"""The container images, checked without a container engine.

Each Dockerfile is parsed into stages and instructions and held to the image rules: a builder
stage that installs pinned wheels, a final stage on the same slim Python that installs nothing,
runs as a numeric non-root user, has no HEALTHCHECK (Kubernetes probes instead) and starts the
service module. Then the image's contents are reproduced in a temporary directory (the COPY'd
packages plus only the distributions pip would install) and the entry point runs there with
`python -S`, so a missing dependency or package fails here instead of in a cluster.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tools import dockerfile as dockerfile_reader
from tools import gen_constraints
from tools.dockerfile import Dockerfile

REPO_ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
SERVICES = ["webhook", "reconciler"]
USER_ID = 65532
FINAL_BASE = "python:3.11-slim"
OCI_LABELS = ("title", "description", "source", "licenses", "version")


def dockerfile(service: str) -> Dockerfile:
    return dockerfile_reader.parse((REPO_ROOT / f"Dockerfile.{service}").read_text())


def dockerignore_excludes(path: str) -> bool:
    return dockerfile_reader.dockerignore_excludes((REPO_ROOT / ".dockerignore").read_text(), path)


def deployment_container(service: str) -> dict[str, object]:
    (deployment,) = yaml.safe_load_all((REPO_ROOT / "manifests" / service / "deployment.yaml").read_text())
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert isinstance(container, dict)
    return container


def image_closure(image: Dockerfile) -> list[str]:
    """Distributions pip installs into the image: the closure of its install roots."""
    roots = [
        Requirement(name)
        for tokens in dockerfile_reader.pip_installs(image)
        for name in dockerfile_reader.requirement_roots(tokens)[1]
    ]
    return sorted(gen_constraints.closure(roots))


def build_tree(image: Dockerfile, root: Path) -> None:
    """The files the image's COPY instructions bring in, under `root` (all stages share it)."""
    for stage in image.stages:
        for sources, destination in dockerfile_reader.copies(stage):
            base = Path(destination) if destination.startswith("/") else Path(stage.workdir()) / destination
            target = root / str(base).lstrip("/")
            for source in sources:
                path = REPO_ROOT / source
                if path.is_dir():
                    shutil.copytree(
                        path, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__")
                    )
                else:
                    target.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(path, target / path.name)


def link_distributions(names: list[str], site: Path) -> None:
    """Stand-in site-packages holding only `names`: links to their installed top-level entries."""
    site.mkdir()
    for name in names:
        dist = metadata.distribution(name)
        tops = {Path(f).parts[0] for f in dist.files or []} - {"__pycache__"}
        for top in sorted(t for t in tops if not t.startswith("..")):
            if not (site / top).exists():
                (site / top).symlink_to(Path(str(dist.locate_file(top))))


def run_in_image(image: Dockerfile, tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    root = tmp_path / "root"
    build_tree(image, root)
    link_distributions(image_closure(image), tmp_path / "site")
    env = image.final.merged("ENV")
    paths = [str(root / p.lstrip("/")) for p in env.get("PYTHONPATH", "").split(":") if p]
    python_env = {k: env[k] for k in ("PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED")}
    python_env |= {"PYTHONPATH": ":".join([*paths, str(tmp_path / "site")]), "HOME": str(tmp_path)}
    # -S: no site-packages of the test environment, so only what the image holds can be imported.
    return subprocess.run(
        [sys.executable, "-S", *argv],
        cwd=root / image.final.workdir().lstrip("/"),
        env=python_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("service", SERVICES)
def test_image_builds_in_a_builder_stage_on_the_final_base(service: str) -> None:
    image = dockerfile(service)
    assert len(image.stages) >= 2
    assert image.stages[0].name == "builder"
    # One base for all stages: the virtual environment links to the base image's interpreter.
    assert {stage.base for stage in image.stages} == {FINAL_BASE}


@pytest.mark.parametrize("service", SERVICES)
def test_final_stage_installs_nothing(service: str) -> None:
    final = dockerfile(service).final
    assert final.all("RUN") == [], "build everything in the builder stage; the final stage only copies"
    assert all("--from=builder" in c for c in final.all("COPY")), "the final stage copies only build results"


@pytest.mark.parametrize("service", SERVICES)
def test_no_stage_uses_a_system_package_manager_or_compiler(service: str) -> None:
    runs = " ".join(run for stage in dockerfile(service).stages for run in stage.all("RUN"))
    for tool in ("apt-get", "apt ", "apk ", "gcc", "build-essential", "make "):
        assert tool not in runs


@pytest.mark.parametrize("service", SERVICES)
def test_final_stage_runs_as_numeric_non_root_user(service: str) -> None:
    users = dockerfile(service).final.all("USER")
    assert users, "the final stage sets no USER and would run as root"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and gid.isdigit(), "numeric ids let Kubernetes verify runAsNonRoot"
    assert (int(uid), int(gid)) == (USER_ID, USER_ID)


@pytest.mark.parametrize("service", SERVICES)
def test_image_has_no_healthcheck(service: str) -> None:
    assert all(stage.all("HEALTHCHECK") == [] for stage in dockerfile(service).stages)


@pytest.mark.parametrize("service", SERVICES)
def test_entrypoint_runs_the_service_module(service: str) -> None:
    (entrypoint,) = dockerfile(service).final.all("ENTRYPOINT")
    assert json.loads(entrypoint) == ["python", "-m", service]
    # The Deployment passes only args, so the image's entrypoint stays in charge.
    assert "command" not in deployment_container(service)


@pytest.mark.parametrize("service", SERVICES)
def test_exposed_ports_are_the_deployment_container_ports(service: str) -> None:
    (exposed,) = dockerfile(service).final.all("EXPOSE")
    ports = deployment_container(service)["ports"]
    assert isinstance(ports, list)
    assert sorted(int(p) for p in exposed.split()) == sorted(p["containerPort"] for p in ports)


@pytest.mark.parametrize("service", SERVICES)
def test_python_runs_unbuffered_without_writing_bytecode(service: str) -> None:
    env = dockerfile(service).final.merged("ENV")
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["PYTHONUNBUFFERED"] == "1"


def test_reconciler_image_labels_children_with_its_build_version() -> None:
    from reconciler import config as reconciler_config

    final = dockerfile("reconciler").final
    variable = reconciler_config.env_name("operator-version")
    assert final.merged("ENV")[variable] == "${VERSION}"
    assert "VERSION" in final.merged("ARG")


@pytest.mark.parametrize("service", SERVICES)
def test_image_carries_oci_labels(service: str) -> None:
    final = dockerfile(service).final
    labels = {
        k: dockerfile_reader.substitute(v, final.merged("ARG")) for k, v in final.merged("LABEL").items()
    }
    values = {name: labels.get(f"org.opencontainers.image.{name}", "") for name in OCI_LABELS}
    assert all(values.values()), values
    assert values["title"] == f"modelservice-{service}"
    assert values["version"] == PYPROJECT["project"]["version"]
    assert values["licenses"] == PYPROJECT["project"]["license"]["text"]


@pytest.mark.parametrize("service", SERVICES)
def test_image_copies_only_its_service_and_the_shared_package(service: str) -> None:
    sources = {
        s.rstrip("/")
        for stage in dockerfile(service).stages
        for ss, _ in dockerfile_reader.copies(stage)
        for s in ss
    }
    assert sources == {"constraints.txt", "shared", service}


@pytest.mark.parametrize("service", SERVICES)
def test_copied_sources_exist_and_are_in_the_build_context(service: str) -> None:
    for stage in dockerfile(service).stages:
        for sources, _ in dockerfile_reader.copies(stage):
            for source in sources:
                assert (REPO_ROOT / source).exists(), f"COPY {source}: no such path in the repository"
                assert not dockerignore_excludes(source.rstrip("/")), f".dockerignore drops {source}"


@pytest.mark.parametrize(
    ("path", "excluded"),
    [
        ("shared/api.py", False),
        ("webhook/app.py", False),
        ("reconciler/__init__.py", False),
        ("constraints.txt", False),
        (".venv/bin/python", True),
        (".git/config", True),
        ("tests/conftest.py", True),
        ("manifests/overlays/self-signed/certs/ca.key", True),
        ("shared/__pycache__/api.cpython-311.pyc", True),
        ("webhook/tls.pyc", True),
    ],
)
def test_dockerignore_keeps_the_context_to_what_images_copy(path: str, excluded: bool) -> None:
    assert dockerignore_excludes(path) is excluded


@pytest.mark.parametrize("service", SERVICES)
def test_dependencies_install_as_pinned_wheels(service: str) -> None:
    installs = dockerfile_reader.pip_installs(dockerfile(service))
    assert installs, "the builder installs no dependencies"
    project = {canonicalize_name(Requirement(r).name) for r in PYPROJECT["project"]["dependencies"]}
    for tokens in installs:
        constraints, packages = dockerfile_reader.requirement_roots(tokens)
        assert constraints == ["constraints.txt"]
        assert "--only-binary=:all:" in tokens, "wheels only: the builder has no compiler"
        assert {canonicalize_name(p) for p in packages} <= project, "install only declared dependencies"


def test_constraints_pin_every_runtime_dependency_within_the_project_bounds() -> None:
    pins = gen_constraints.parse((REPO_ROOT / "constraints.txt").read_text())
    needed = gen_constraints.closure(gen_constraints.project_dependencies())
    assert set(needed) - set(pins) == set(), "stale constraints.txt: run python -m tools.gen_constraints"
    for requirement in gen_constraints.project_dependencies():
        pinned = pins[canonicalize_name(requirement.name)]
        assert requirement.specifier.contains(pinned), f"{requirement.name}=={pinned} breaks {requirement}"


def test_constraints_parser_rejects_loose_pins() -> None:
    with pytest.raises(ValueError, match="line 2"):
        gen_constraints.parse("aiohttp==3.14.5\npydantic>=2\n")


@pytest.mark.parametrize("service", SERVICES)
def test_entry_point_starts_with_only_the_image_contents(service: str, tmp_path: Path) -> None:
    result = run_in_image(dockerfile(service), tmp_path, "-m", service, "--help")
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_module_imports_with_only_the_image_contents(service: str, tmp_path: Path) -> None:
    # Catches imports made inside functions that `--help` never reaches.
    script = (
        "import importlib, pkgutil\n"
        f"import {service}\n"
        f"for m in pkgutil.walk_packages({service}.__path__, '{service}.'):\n"
        "    if not m.name.endswith('__main__'):\n"
        "        importlib.import_module(m.name)\n"
    )
    result = run_in_image(dockerfile(service), tmp_path, "-c", script)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("text", "reason"),
    [("FROM a\nRUN true \\\n", "continuation"), ("RUN true\nFROM a\n", "before the first FROM")],
    ids=["dangling-continuation", "instruction-before-from"],
)
def test_parser_rejects_a_malformed_dockerfile(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        dockerfile_reader.parse(text)


def test_parser_joins_continuations_and_resolves_global_args() -> None:
    image = dockerfile_reader.parse(
        "ARG BASE=py:1\nFROM ${BASE} AS b\n# note\nRUN a \\\n  # inner\n  b\nFROM b\n"
    )
    assert [(s.base, s.name) for s in image.stages] == [("py:1", "b"), ("b", None)]
    assert image.stages[0].all("RUN") == ["a b"]
