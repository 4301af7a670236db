"""--epp-generation / <SERVICE>_EPP_GENERATION, read alike by both services: the default EPP image
follows the generation unless one is given."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest

from reconciler import config as reconciler_config
from webhook import config as webhook_config

ROUTER_IMAGE = "ghcr.io/llm-d/llm-d-router-endpoint-picker:v0.10.0"
REFERENCE = ("gateway-api-inference-extension", "ghcr.io/llm-d/llm-d-inference-scheduler:v0.6.0")
Load = Callable[[Sequence[str], Mapping[str, str]], Any]
SERVICES: dict[str, tuple[Load, str]] = {
    "webhook": (webhook_config.load, "WEBHOOK_"),
    "reconciler": (reconciler_config.load, "RECONCILER_"),
}
CASES = {
    "reference by default": ([], {}, REFERENCE),
    "flag": (["--epp-generation", "llm-d-router"], {}, ("llm-d-router", ROUTER_IMAGE)),
    "environment variable": ([], {"EPP_GENERATION": "llm-d-router"}, ("llm-d-router", ROUTER_IMAGE)),
    "a given image wins (flag)": (
        ["--default-epp-image", "reg/epp:1"],
        {"EPP_GENERATION": "llm-d-router"},
        ("llm-d-router", "reg/epp:1"),
    ),
    "a given image wins (environment)": (
        ["--epp-generation", "llm-d-router"],
        {"DEFAULT_EPP_IMAGE": "reg/epp:1"},
        ("llm-d-router", "reg/epp:1"),
    ),
}


@pytest.mark.parametrize("service", sorted(SERVICES))
@pytest.mark.parametrize("case", list(CASES))
def test_generation_and_default_epp_image(service: str, case: str) -> None:
    load, prefix = SERVICES[service]
    argv, env, expected = CASES[case]
    operator = load(argv, {prefix + k: v for k, v in env.items()}).operator
    assert (operator.epp_generation, operator.default_epp_image) == expected


@pytest.mark.parametrize("service", sorted(SERVICES))
@pytest.mark.parametrize("by", ["flag", "environment"])
def test_an_unknown_generation_exits_with_usage(
    service: str, by: str, capsys: pytest.CaptureFixture[str]
) -> None:
    load, prefix = SERVICES[service]
    argv, env = (
        (["--epp-generation", "gie"], {}) if by == "flag" else ([], {prefix + "EPP_GENERATION": "gie"})
    )
    with pytest.raises(SystemExit) as caught:
        load(argv, env)
    assert caught.value.code == 2
    assert "epp_generation" in capsys.readouterr().err
