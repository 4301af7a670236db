"""GPU math: resource names per vendor, count per pod, and injection into resources."""

from __future__ import annotations

from typing import Any

import pytest

from shared import gpu
from shared.api import ParallelismSpec


@pytest.mark.parametrize(
    ("accelerator", "expected"),
    [
        ("nvidia", "nvidia.com/gpu"),
        ("amd", "amd.com/gpu"),
        ("intel-gaudi", "habana.ai/gaudi"),
        ("google", "google.com/tpu"),
        ("cpu", ""),
        ("tenstorrent", ""),
        ("", ""),
    ],
    ids=["nvidia", "amd", "intel gaudi", "google tpu", "cpu has none", "unknown vendor has none", "empty"],
)
def test_gpu_resource_name(accelerator: str, expected: str) -> None:
    assert gpu.gpu_resource_name(accelerator) == expected


@pytest.mark.parametrize(
    ("parallelism", "expected"),
    [
        (None, 1),
        (ParallelismSpec(), 1),
        (ParallelismSpec(tensor=8), 8),
        (ParallelismSpec(tensor=2, data=8, data_local=4), 8),
        (ParallelismSpec.model_construct(tensor=0, data=0, data_local=-3), 1),
    ],
    ids=["absent", "all ones", "tensor", "data is not counted", "values below one count as one"],
)
def test_gpu_count(parallelism: ParallelismSpec | None, expected: int) -> None:
    assert gpu.gpu_count(parallelism) == expected


@pytest.mark.parametrize(
    ("resources", "accelerator", "count", "expected"),
    [
        ({}, "nvidia", 2, {"limits": {"nvidia.com/gpu": "2"}, "requests": {"nvidia.com/gpu": "2"}}),
        (
            {"limits": {"nvidia.com/gpu": "8"}},
            "nvidia",
            1,
            {"limits": {"nvidia.com/gpu": "1"}, "requests": {"nvidia.com/gpu": "1"}},
        ),
        (
            {"requests": {"cpu": "2"}, "claims": [{"name": "c"}]},
            "amd",
            4,
            {
                "requests": {"cpu": "2", "amd.com/gpu": "4"},
                "claims": [{"name": "c"}],
                "limits": {"amd.com/gpu": "4"},
            },
        ),
        ({"requests": {"cpu": "2"}}, "cpu", 4, {"requests": {"cpu": "2"}}),
        ({}, "unknown", 4, {}),
        ({}, "nvidia", 0, {}),
    ],
    ids=[
        "creates both maps",
        "overwrites the user value",
        "keeps other entries",
        "cpu is a no-op",
        "unknown vendor is a no-op",
        "zero count is a no-op",
    ],
)
def test_inject_gpu_resources(
    resources: dict[str, Any], accelerator: str, count: int, expected: dict[str, Any]
) -> None:
    assert gpu.inject_gpu_resources(resources, accelerator, count) == expected


def test_inject_gpu_resources_leaves_its_input_alone() -> None:
    resources = {"limits": {"nvidia.com/gpu": "8"}}
    gpu.inject_gpu_resources(resources, "nvidia", 1)
    assert resources == {"limits": {"nvidia.com/gpu": "8"}}
