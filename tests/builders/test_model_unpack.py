"""The model-unpack init container, its script bytes and the serving volumes."""

from __future__ import annotations

import hashlib

import pytest

from shared.builders import model_unpack
from tests.builders.factories import SETTINGS, make_ms, settings

REFERENCE_SCRIPT_SHA256 = "b1b06b9a37853529090669b448b88b111d776076f53187e71ebfb24409a540c2"


def test_plain_http_script_is_byte_identical_to_the_reference() -> None:
    script = model_unpack.unpack_script(plain_http=True)
    assert hashlib.sha256(script.encode()).hexdigest() == REFERENCE_SCRIPT_SHA256


def test_default_script_omits_plain_http_and_differs_only_there() -> None:
    script = model_unpack.unpack_script(plain_http=False)
    assert "--plain-http" not in script
    assert script == model_unpack.unpack_script(plain_http=True).replace(" --plain-http", "")


@pytest.mark.parametrize(
    ("plain_http", "expected_flag"),
    [(False, False), (True, True)],
    ids=["off by default", "on when configured"],
)
def test_container_script_follows_the_setting(plain_http: bool, expected_flag: bool) -> None:
    container = model_unpack.build_model_unpack_container(make_ms(), settings(kit_plain_http=plain_http))
    assert container is not None
    assert ("--plain-http" in container["args"][0]) is expected_flag


def test_pull_secrets_add_docker_config_env_and_mount() -> None:
    ms = make_ms({"model": {"imagePullSecrets": [{"name": "regcred"}], "mountPath": "/m"}})
    container = model_unpack.build_model_unpack_container(ms, SETTINGS)
    assert container is not None
    assert container["env"] == [
        {"name": "OCI_MODEL_IMAGE", "value": "harbor.local/models/qwen3:0.6b"},
        {"name": "MODEL_MOUNT_PATH", "value": "/m"},
        {"name": "KITOPS_HOME", "value": "/tmp/model-oci"},
        {"name": "DOCKER_CONFIG", "value": "/.docker"},
    ]
    assert container["volumeMounts"] == [
        {"name": "model-tmp", "mountPath": "/tmp/model-oci"},
        {"name": "model", "mountPath": "/m"},
        {"name": "docker-config", "mountPath": "/.docker", "readOnly": True},
    ]


def test_empty_kit_image_builds_no_container() -> None:
    assert model_unpack.build_model_unpack_container(make_ms(), settings(kit_image="")) is None


@pytest.mark.parametrize(
    ("secrets", "expected"),
    [(None, ["model", "model-tmp"]), ([{"name": "a"}], ["model", "model-tmp", "docker-config"])],
    ids=["without pull secrets", "with pull secrets"],
)
def test_serving_volumes(secrets: list[dict[str, str]] | None, expected: list[str]) -> None:
    ms = make_ms({"model": {"imagePullSecrets": secrets}})
    assert [v["name"] for v in model_unpack.build_serving_volumes(ms)] == expected
