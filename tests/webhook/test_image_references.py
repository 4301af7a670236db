"""Images with whitespace or control characters are denied at their field, in the spec and in the
operator's settings, instead of failing later at the pod."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from shared import defaulting, formats, validation
from shared.settings import OperatorSettings
from tests.webhook import samples
from webhook import handling

SETTINGS = OperatorSettings()
REASON = "must not contain whitespace or control characters"

# Every image field of the spec, and the sections that must exist for it to be read.
IMAGE_FIELDS: dict[str, dict[str, Any]] = {
    "spec.model.image": {},
    "spec.engine.image": {},
    "spec.routingProxy.image": {"spec.routingProxy": {}},
    "spec.inferencePool.endpointPicker.image": {"spec.inferencePool": {"endpointPicker": {}}},
}
# (image, the first offending character, its index)
BAD_IMAGES = [
    (" vllm/vllm-openai:v0.9 ", " ", 0),
    ("vllm/vllm-openai:v0.9 ", " ", 21),
    ("vllm/vllm openai:v0.9", " ", 9),
    ("vllm/vllm-openai:v0.9\n", "\n", 21),
    ("vllm/vllm-openai\t:v0.9", "\t", 16),
    ("vllm/\x00vllm-openai", "\x00", 5),
    ("vllm/vllm-openai\x7f", "\x7f", 16),
    ("vllm/vllm-openai\x85", "\x85", 16),  # C1 NEXT LINE
    ("vllm/vllm-openai\x9b", "\x9b", 16),  # C1 control sequence introducer
    ("vllm/vllm-openai\u00a0", "\u00a0", 16),  # no-break space
    ("vllm/vllm-openai\u3000", "\u3000", 16),  # ideographic space
    ("   ", " ", 0),
    ("r/" + "x" * 200 + "\x1b", "\x1b", 202),  # past the 80 characters shown of the value
]
GOOD_IMAGES = [
    "vllm/vllm-openai:v0.9",
    "registry.local:5000/team/vllm@sha256:" + "a" * 64,
    "ghcr.io/llm-d/llm-d-cuda:v0.5.1",
]


def _with_image(path: str, image: str) -> dict[str, Any]:
    obj = samples.minimal()
    for section, value in IMAGE_FIELDS[path].items():
        obj = samples.with_changes(obj, section, value)
    return defaulting.defaulted(samples.with_changes(obj, path, image), SETTINGS)


def _shown(image: str) -> str:
    return repr(image) if len(image) <= 80 else repr(image[:77] + "...")


def _error(path: str, image: str, char: str, index: int) -> str:
    return f"{path}: Invalid value: {_shown(image)}: {REASON} (found {char!r} at index {index})"


CASES = [(path, *bad) for path in IMAGE_FIELDS for bad in BAD_IMAGES]
CASE_IDS = [f"{path}={bad!r}" for path, bad, _, _ in CASES]


@pytest.mark.parametrize(("path", "image", "char", "index"), CASES, ids=CASE_IDS)
def test_a_malformed_image_is_denied_at_its_field(path: str, image: str, char: str, index: int) -> None:
    report = validation.validate(_with_image(path, image), SETTINGS)
    assert [str(e) for e in report.errors] == [_error(path, image, char, index)]


@pytest.mark.parametrize(("path", "image", "char", "index"), CASES, ids=CASE_IDS)
def test_the_webhook_denies_a_malformed_image_with_a_visible_value(
    path: str, image: str, char: str, index: int
) -> None:
    body = json.dumps(samples.review(_with_image(path, image))).encode()
    answer = handling.handle(body, "application/json", "validate", SETTINGS)
    assert answer.status == 200
    response = json.loads(answer.body)["response"]
    assert response["allowed"] is False
    assert response["status"]["code"] == 422
    assert [c["field"] for c in response["status"]["details"]["causes"]] == [path]
    assert _error(path, image, char, index) in response["status"]["message"]


@pytest.mark.parametrize("path", sorted(IMAGE_FIELDS))
@pytest.mark.parametrize("image", GOOD_IMAGES)
def test_a_well_formed_image_passes(path: str, image: str) -> None:
    assert validation.validate(_with_image(path, image), SETTINGS).errors == ()


def test_the_check_matches_pythons_whitespace_and_the_control_category_on_every_code_point() -> None:
    import sys
    import unicodedata

    flagged = [c for c in map(chr, range(sys.maxunicode + 1)) if formats.image_reference(c)]
    expected = [
        c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace() or unicodedata.category(c) == "Cc"
    ]
    assert flagged == expected


@pytest.mark.parametrize(
    "setting", ["default_engine_image", "default_epp_image", "default_routing_proxy_image", "kit_image"]
)
def test_an_operator_default_image_gets_the_same_check(setting: str) -> None:
    with pytest.raises(ValidationError, match=f"{setting}\n.*' ghcr.io/x': {REASON}"):
        OperatorSettings.model_validate({setting: " ghcr.io/x"})


def test_an_empty_kit_image_still_disables_the_init_container() -> None:
    assert OperatorSettings(kit_image="").kit_image == ""
