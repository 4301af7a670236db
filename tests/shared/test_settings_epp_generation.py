"""OperatorSettings.epp_generation: the default EPP image follows it unless an image is given."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from shared import cli_settings
from shared.settings import OperatorSettings

GIE_IMAGE = "ghcr.io/llm-d/llm-d-inference-scheduler:v0.6.0"
ROUTER_IMAGE = "ghcr.io/llm-d/llm-d-router-endpoint-picker:v0.10.0"


@pytest.mark.parametrize(
    ("given", "generation", "image"),
    [
        ({}, "gateway-api-inference-extension", GIE_IMAGE),
        ({"epp_generation": "llm-d-router"}, "llm-d-router", ROUTER_IMAGE),
        ({"epp_generation": "llm-d-router", "default_epp_image": None}, "llm-d-router", ROUTER_IMAGE),
        ({"epp_generation": "llm-d-router", "default_epp_image": "reg/epp:1"}, "llm-d-router", "reg/epp:1"),
        ({"default_epp_image": ROUTER_IMAGE}, "gateway-api-inference-extension", ROUTER_IMAGE),
    ],
    ids=[
        "the reference by default",
        "the router's image follows the router generation",
        "an unset image follows the generation",
        "a given image wins over the generation",
        "a given image wins over the default generation",
    ],
)
def test_default_epp_image_follows_the_generation(given: dict[str, Any], generation: str, image: str) -> None:
    settings = OperatorSettings(**given)
    assert (settings.epp_generation, settings.default_epp_image) == (generation, image)


def test_an_unknown_generation_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        OperatorSettings(epp_generation="gie")  # type: ignore[arg-type]
    assert [e["loc"] for e in caught.value.errors()] == [("epp_generation",)]


def test_the_offline_command_line_takes_the_generation() -> None:
    settings = cli_settings.load_settings(None, ["epp_generation=llm-d-router"])
    assert (settings.epp_generation, settings.default_epp_image) == ("llm-d-router", ROUTER_IMAGE)
