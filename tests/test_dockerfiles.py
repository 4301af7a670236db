"""The container images, checked without a container engine.

Each Dockerfile is parsed into stages and instructions and held to the image rules: a builder
stage that installs the project with its service's extra into a virtual environment, third-party
packages as pinned wheels, and a final stage on the same slim Python that installs nothing, copies
only that environment, runs as a numeric non-root user, has no HEALTHCHECK (Kubernetes probes
instead) and starts the service module. Then the image's site-packages is reproduced in a temporary
directory (the wheel built from the COPY'd build context, plus only the distributions of the
project's dependencies and the requested extras) and the entry point runs there with `python -S`,
so a missing dependency, package or COPY fails here instead of in a cluster.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from packaging.utils import canonicalize_name

from tests.support import wheels
from tools import dockerfile as dockerfile_reader
from tools import gen_constraints
from tools.dockerfile import Dockerfile

REPO_ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
SERVICES = ["webhook", "reconciler"]
USER_ID = 65532
FINAL_BASE = "python:3.11-slim"
OCI_LABELS = ("title", "description", "source", "licenses", "version")
VENV = "/opt/venv"


def dockerfile(service: str) -> Dockerfile:
    return dockerfile_reader.parse((REPO_ROOT / f"Dockerfile.{service}").read_text())


def dockerignore_excludes(path: str) -> bool:
    return dockerfile_reader.dockerignore_excludes((REPO_ROOT / ".dockerignore").read_text(), path)


def deployment_container(service: str) -> dict[str, object]:
    (deployment,) = yaml.safe_load_all((REPO_ROOT / "manifests" / service / "deployment.yaml").read_text())
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert isinstance(container, dict)
    return container


def build_tree(image: Dockerfile, root: Path) -> None:
    """The files the image's COPY instructions bring in from the build context, under `root` (all
    stages share it), less what .dockerignore keeps out of the context."""
    dockerignore = (REPO_ROOT / ".dockerignore").read_text()

    def ignored(directory: str, names: list[str]) -> set[str]:
        relative = Path(directory).relative_to(REPO_ROOT)
        return {n for n in names if dockerfile_reader.dockerignore_excludes(dockerignore, str(relative / n))}

    for stage in image.stages:
        for sources, destination in dockerfile_reader.copies(stage):
            base = Path(destination) if destination.startswith("/") else Path(stage.workdir()) / destination
            target = root / str(base).lstrip("/")
            for source in sources:
                path = REPO_ROOT / source
                if path.is_dir():
                    shutil.copytree(path, target, dirs_exist_ok=True, ignore=ignored)
                else:
                    target.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(path, target / path.name)


def project_install(image: Dockerfile) -> tuple[dockerfile_reader.PipInstall, str, set[str]]:
    """The builder's one pip install, and the project directory and extras it installs."""
    (install,) = dockerfile_reader.pip_installs(image)
    (requirement,) = install.requirements
    directory, extras = dockerfile_reader.local_project(requirement)
    return install, directory, extras


def reproduce_site_packages(image: Dockerfile, tmp: Path) -> Path:
    """The image's site-packages, reproduced under `tmp`: the wheel the builder builds from the copied
    context, unpacked, and links to the installed distributions of the closure of the project's
    dependencies and the extras the builder installs."""
    root = tmp / "root"
    build_tree(image, root)
    install, directory, extras = project_install(image)
    project = root / install.workdir.lstrip("/") / directory
    site = tmp / "site"
    wheels.unpack_wheel(wheels.build_wheel(project, tmp / "dist"), site)
    requirements = gen_constraints.runtime_requirements(extras, pyproject=project / "pyproject.toml")
    wheels.link_distributions(gen_constraints.closure(requirements), site)
    return site


@pytest.fixture(scope="module")
def image_site(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """The reproduced site-packages of a service's image, built once per service for this module."""
    sites: dict[str, Path] = {}

    def site(service: str) -> Path:
        if service not in sites:
            sites[service] = reproduce_site_packages(dockerfile(service), tmp_path_factory.mktemp(service))
        return sites[service]

    return site


def run_in_image(service: str, site: Path, tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """`python *argv` with only the image's site-packages and the final stage's Python settings."""
    env = dockerfile(service).final.merged("ENV")
    python_env = {k: env[k] for k in ("PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED")}
    # The final stage has no sources in its working directory (see the single COPY test), so an
    # empty one stands in for it.
    return wheels.run_with_only(site, tmp_path, python_env, *argv)


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
def test_final_stage_copies_only_the_virtual_environment(service: str) -> None:
    final = dockerfile(service).final
    assert dockerfile_reader.copies(final, from_stage="builder") == [([VENV], VENV)]
    # The installed packages are the only code: no source tree on the path.
    assert "PYTHONPATH" not in final.merged("ENV")
    assert final.merged("ENV")["PATH"].startswith(f"{VENV}/bin:"), "`python` is the venv's"


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
    assert values["licenses"] == PYPROJECT["project"]["license"]


@pytest.mark.parametrize("service", SERVICES)
def test_image_copies_only_the_build_files_its_service_and_the_shared_package(service: str) -> None:
    sources = {
        s.rstrip("/")
        for stage in dockerfile(service).stages
        for ss, _ in dockerfile_reader.copies(stage)
        for s in ss
    }
    # The wheel is built from what is copied, so this also keeps other packages out of the image.
    assert sources == {"pyproject.toml", PYPROJECT["project"]["readme"], "constraints.txt", "shared", service}


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
        ("pyproject.toml", False),
        ("README.md", False),
        ("certs/pki.py", True),
        ("testbed/controlplane.py", True),
        ("tools/dockerfile.py", True),
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
def test_builder_installs_the_project_with_its_service_extra_as_pinned_wheels(service: str) -> None:
    # Where the project directory points is checked by building it (reproduce_site_packages).
    install, _, extras = project_install(dockerfile(service))
    assert extras == {service}, "exactly the service's extra: the others pull in what it never imports"
    assert install.constraints == ["constraints.txt"]
    assert "--only-binary=:all:" in install.options, "wheels only: the builder has no compiler"
    assert install.target == f"{VENV}/bin/python", "into the environment the final stage copies"


def test_service_extras_are_the_images_and_the_offline_tools() -> None:
    declared = set(PYPROJECT["project"]["optional-dependencies"]) - {"test"}
    assert declared == set(gen_constraints.SERVICE_EXTRAS)
    assert set(SERVICES) <= declared


def test_constraints_pin_every_runtime_dependency_within_the_project_bounds() -> None:
    pins = gen_constraints.parse((REPO_ROOT / "constraints.txt").read_text())
    needed = gen_constraints.closure(gen_constraints.runtime_requirements())
    assert set(needed) - set(pins) == set(), "stale constraints.txt: run python -m tools.gen_constraints"
    for requirement in gen_constraints.runtime_requirements():
        pinned = pins[canonicalize_name(requirement.name)]
        assert requirement.specifier.contains(pinned), f"{requirement.name}=={pinned} breaks {requirement}"


def test_constraints_parser_rejects_loose_pins() -> None:
    with pytest.raises(ValueError, match="line 2"):
        gen_constraints.parse("aiohttp==3.14.5\npydantic>=2\n")


@pytest.mark.parametrize("service", SERVICES)
def test_image_holds_only_its_service_and_the_shared_package(
    service: str, image_site: Callable[[str], Path]
) -> None:
    project = PYPROJECT["project"]["name"].replace("-", "_")
    (dist_info,) = image_site(service).glob(f"{project}-*.dist-info")
    assert set((dist_info / "top_level.txt").read_text().split()) == {"shared", service}


@pytest.mark.parametrize("service", SERVICES)
def test_entry_point_starts_with_only_the_image_contents(
    service: str, image_site: Callable[[str], Path], tmp_path: Path
) -> None:
    result = run_in_image(service, image_site(service), tmp_path, "-m", service, "--help")
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_module_imports_with_only_the_image_contents(
    service: str, image_site: Callable[[str], Path], tmp_path: Path
) -> None:
    script = wheels.import_all_script([service])
    result = run_in_image(service, image_site(service), tmp_path, "-c", script)
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


def test_pip_install_reader_splits_target_constraints_options_and_a_local_project() -> None:
    image = dockerfile_reader.parse(
        "FROM a\nWORKDIR /b\n"
        'RUN python -m venv /v && python -m pip --python /v/bin/python install -q -c c.txt ".[x, y]"\n'
    )
    (install,) = dockerfile_reader.pip_installs(image)
    assert install == dockerfile_reader.PipInstall("/b", "/v/bin/python", ["c.txt"], [".[x, y]"], ["-q"])
    assert dockerfile_reader.local_project(".[x, y]") == (".", {"x", "y"})
    with pytest.raises(ValueError, match="not a local project"):
        dockerfile_reader.local_project("aiohttp[speedups]")
