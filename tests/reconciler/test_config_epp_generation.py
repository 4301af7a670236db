"""--epp-generation / RECONCILER_EPP_GENERATION: the EPP image follows it unless one is given."""

from __future__ import annotations

import pytest

from reconciler import config

ROUTER_IMAGE = "ghcr.io/llm-d/llm-d-router-endpoint-picker:v0.10.0"


@pytest.mark.parametrize(
    ("argv", "env", "expected"),
    [
        ([], {}, ("gateway-api-inference-extension", "ghcr.io/llm-d/llm-d-inference-scheduler:v0.6.0")),
        (["--epp-generation", "llm-d-router"], {}, ("llm-d-router", ROUTER_IMAGE)),
        ([], {"RECONCILER_EPP_GENERATION": "llm-d-router"}, ("llm-d-router", ROUTER_IMAGE)),
        (
            ["--epp-generation", "llm-d-router"],
            {"RECONCILER_DEFAULT_EPP_IMAGE": "reg/epp:1"},
            ("llm-d-router", "reg/epp:1"),
        ),
    ],
    ids=["reference by default", "flag", "environment variable", "a given image wins"],
)
def test_generation_and_default_epp_image(
    argv: list[str], env: dict[str, str], expected: tuple[str, str]
) -> None:
    operator = config.load(argv, env).operator
    assert (operator.epp_generation, operator.default_epp_image) == expected


def test_an_unknown_generation_exits_with_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        config.load([], {"RECONCILER_EPP_GENERATION": "gie"})
    assert caught.value.code == 2
    assert "epp_generation" in capsys.readouterr().err
