"""The EPP ConfigMap."""

from __future__ import annotations

import pytest

from shared import epp_config
from shared.builders import epp_configmap
from tests.builders.factories import EPP_META, SETTINGS, make_ms


@pytest.mark.parametrize(
    ("prefill", "key", "text"),
    [
        (False, "default-plugins.yaml", epp_config.DEFAULT_PLUGINS_YAML),
        (True, "pd-config.yaml", epp_config.PD_CONFIG_YAML),
    ],
    ids=["without prefill", "with prefill"],
)
def test_configmap_holds_exactly_one_plugin_file(prefill: bool, key: str, text: str) -> None:
    ms = make_ms({"prefill": {}} if prefill else {})
    assert epp_configmap.build_epp_configmap(ms, SETTINGS) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": EPP_META | {"name": "qwen3-0-6b-epp-config"},
        "data": {key: text},
    }
