"""Admission through the real API path: `kubectl apply --dry-run=server` against the running system.

The webhook runs with an image policy (only `ghcr.io/llm-d/` and `registry.example.com/`), so
one test can show a policy denial; the defaults all fall inside it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import yaml

from demo.processes import REPO_ROOT
from shared import names
from shared.settings import OperatorSettings
from shared.validation import validate
from tests.e2e.system import NAMESPACE, System, example, running_system

ALLOWED_PREFIXES = ("ghcr.io/llm-d/", "registry.example.com/")
SERVER_DRY_RUN = "--dry-run=server"


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    policy = [f"--allowed-image-prefix={prefix}" for prefix in ALLOWED_PREFIXES]
    with running_system(tmp_path_factory.mktemp("admission"), webhook_args=policy) as running:
        yield running


def broken(name: str, *, well_typed: bool) -> dict[str, object]:
    """`examples/invalid/broken.yaml`; well typed, it passes the schema and reaches the webhook."""
    text = (REPO_ROOT / "examples" / "invalid" / "broken.yaml").read_text()
    if well_typed:
        text = text.replace("replicas: -1", "replicas: 1")
    obj: dict[str, object] = yaml.safe_load(text)
    obj["metadata"] = {"name": name, "namespace": NAMESPACE}
    return obj


def test_server_dry_run_returns_the_defaulted_object_and_stores_nothing(system: System) -> None:
    result = system.apply(example("minimal.yaml", "dry-run"), SERVER_DRY_RUN, "-o", "yaml").check()

    returned = yaml.safe_load(result.stdout)
    defaults = OperatorSettings()
    assert returned["metadata"]["annotations"][names.DNS1035_NAME_ANNOTATION] == "dry-run"
    assert returned["spec"]["engine"] == {"image": defaults.default_engine_image, "port": 8000}
    assert returned["spec"]["decode"]["replicas"] == 1
    assert returned["spec"]["model"]["mountPath"] == "/models"
    assert system.get("dry-run") is None
    assert system.children("dry-run") == []


def test_server_dry_run_of_a_schema_violation_names_the_field(system: System) -> None:
    result = system.apply(broken("broken-schema", well_typed=False), SERVER_DRY_RUN)

    assert result.code != 0
    assert 'The ModelService "broken-schema" is invalid' in result.stderr
    assert "spec.decode.replicas: Invalid value: -1" in result.stderr
    assert system.get("broken-schema") is None


def test_server_dry_run_of_an_invalid_spec_reports_every_field_error(system: System) -> None:
    obj = broken("broken-rules", well_typed=True)
    expected = validate(obj, OperatorSettings(allowed_image_prefixes=ALLOWED_PREFIXES)).errors

    result = system.apply(obj, SERVER_DRY_RUN)

    assert result.code != 0
    assert len(expected) >= 3, "the example is meant to break several rules"
    missing = [str(e) for e in expected if e.path not in result.stderr]
    assert not missing, f"kubectl's message lacks {missing}:\n{result.stderr}"
    assert system.get("broken-rules") is None


@pytest.mark.parametrize("flags", [(SERVER_DRY_RUN,), ()], ids=["dry-run", "real-write"])
def test_an_endpoint_picker_image_outside_the_policy_is_forbidden(
    system: System, flags: tuple[str, ...]
) -> None:
    image = "quay.io/untrusted/epp:v1"
    obj = example("minimal.yaml", "bad-epp", inferencePool={"endpointPicker": {"image": image}})

    result = system.apply(obj, *flags)

    assert result.code != 0
    assert "spec.inferencePool.endpointPicker.image" in result.stderr
    assert f"image '{image}' is not allowed by the image policy" in result.stderr
    assert system.get("bad-epp") is None
