"""EPP plugin configs: file choice, exact texts (pinned by their hashes) and the config hash."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
import yaml

from shared import epp_config
from tests.builders.factories import make_ms

DEFAULT_HASH = "3aee930c4fc2cf8c749623ba30a077bd93d5cca0c6513c87a5fe3427b089f2f1"
PD_HASH = "da2206ceec8c17d0eef3714ea7387e412c7b565661113eef5c0d0fd2b083eb23"


@pytest.mark.parametrize(
    ("spec", "expected_file", "expected_hash"),
    [
        ({}, "default-plugins.yaml", DEFAULT_HASH),
        ({"prefill": {}}, "pd-config.yaml", PD_HASH),
        ({"prefill": {"replicas": 0}}, "pd-config.yaml", PD_HASH),
    ],
    ids=[
        "no prefill uses the default plugins",
        "prefill uses the pd config",
        "prefill with zero replicas is still pd",
    ],
)
def test_config_file_and_hash_follow_prefill(
    spec: dict[str, Any], expected_file: str, expected_hash: str
) -> None:
    ms = make_ms(spec)
    assert epp_config.plugins_config_file(ms) == expected_file
    assert list(epp_config.epp_config_data(ms)) == [expected_file]
    assert epp_config.config_map_hash(ms) == expected_hash


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({}, hashlib.sha256(b"").hexdigest()),
        ({"b": "2", "a": "1"}, hashlib.sha256(b"a1b2").hexdigest()),
    ],
    ids=["empty data", "keys in sorted order, key then value"],
)
def test_config_hash_construction(data: dict[str, str], expected: str) -> None:
    assert epp_config.config_hash(data) == expected


@pytest.mark.parametrize(
    "text", [epp_config.DEFAULT_PLUGINS_YAML, epp_config.PD_CONFIG_YAML], ids=["default plugins", "pd config"]
)
def test_config_texts_are_endpoint_picker_configs_without_leading_newline(text: str) -> None:
    parsed = yaml.safe_load(text)
    assert parsed["kind"] == "EndpointPickerConfig"
    assert not text.startswith("\n") and text.endswith("\n") and not text.endswith("\n\n")
