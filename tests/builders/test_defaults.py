"""Image defaults on a copy, and the effective Endpoint Picker settings."""

from __future__ import annotations

from typing import Any

import pytest

from shared.api import EndpointPickerSpec, ModelService
from shared.builders import defaults
from tests.builders.factories import SETTINGS, make_ms

ENGINE = "ghcr.io/llm-d/llm-d-cuda:v0.5.1"
EPP_IMAGE = "ghcr.io/llm-d/llm-d-inference-scheduler:v0.6.0"
PROXY = "ghcr.io/llm-d/llm-d-routing-sidecar:v0.6.0"


def _images(ms: ModelService) -> tuple[str | None, str | None, str | None]:
    proxy = ms.spec.routing_proxy.image if ms.spec.routing_proxy else None
    pool = ms.spec.inference_pool.endpoint_picker.image if ms.spec.inference_pool else None
    return ms.spec.engine.image, proxy, pool


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({}, (ENGINE, None, None)),
        ({"routingProxy": {}, "inferencePool": {"endpointPicker": {}}}, (ENGINE, PROXY, EPP_IMAGE)),
        ({"engine": {"image": ""}, "routingProxy": {"image": ""}}, (ENGINE, PROXY, None)),
        (
            {
                "engine": {"image": "e:1"},
                "routingProxy": {"image": "p:1"},
                "inferencePool": {"endpointPicker": {"image": "x:1"}},
            },
            ("e:1", "p:1", "x:1"),
        ),
    ],
    ids=[
        "engine image filled, absent sections stay absent",
        "every section present gets its default",
        "empty strings count as unset",
        "explicit images are kept",
    ],
)
def test_apply_image_defaults(spec: dict[str, Any], expected: tuple[str | None, ...]) -> None:
    assert _images(defaults.apply_image_defaults(make_ms(spec), SETTINGS)) == expected


def test_apply_image_defaults_returns_a_valid_model_and_leaves_the_input_alone() -> None:
    ms = make_ms({"routingProxy": {}, "inferencePool": {"endpointPicker": {"replicas": 2}}})
    before = ms.to_manifest()
    resolved = defaults.apply_image_defaults(ms, SETTINGS)
    assert ms.to_manifest() == before
    assert ModelService.model_validate(resolved.to_manifest()) == resolved
    assert resolved.spec.inference_pool is not None
    assert resolved.spec.inference_pool.endpoint_picker.replicas == 2


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({}, EndpointPickerSpec(image=EPP_IMAGE, replicas=1, port=9002)),
        (
            {"inferencePool": {"endpointPicker": {"replicas": 3, "port": 9100}}},
            EndpointPickerSpec(image=EPP_IMAGE, replicas=3, port=9100),
        ),
        (
            {"inferencePool": {"endpointPicker": {"image": "epp:dev", "replicas": 0}}},
            EndpointPickerSpec(image="epp:dev", replicas=0),
        ),
    ],
    ids=[
        "no pool synthesizes the default epp",
        "explicit settings with default image",
        "explicit image and zero replicas",
    ],
)
def test_effective_endpoint_picker(spec: dict[str, Any], expected: EndpointPickerSpec) -> None:
    assert defaults.effective_endpoint_picker(make_ms(spec), SETTINGS) == expected


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({}, 1),
        ({"inferencePool": {"endpointPicker": {"replicas": 0}}}, 0),
        ({"inferencePool": {"endpointPicker": {"replicas": 4}}}, 4),
    ],
    ids=["no pool means one", "zero is allowed", "explicit"],
)
def test_epp_replicas(spec: dict[str, Any], expected: int) -> None:
    assert defaults.epp_replicas(make_ms(spec)) == expected


def test_epp_port_falls_back_for_non_positive_values() -> None:
    assert defaults.epp_port(EndpointPickerSpec.model_construct(port=0)) == 9002


@pytest.mark.parametrize(
    ("replicas", "expected"), [(None, 1), (0, 0), (5, 5)], ids=["absent", "zero", "explicit"]
)
def test_default_replicas(replicas: int | None, expected: int) -> None:
    assert defaults.default_replicas(replicas) == expected
