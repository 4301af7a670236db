"""Accelerator math: which extended resource a vendor's GPU is, and how many one pod needs.

Kept apart from the Deployment builder because the webhook and status code reason about GPU counts
too, and because the rules are the reference operator's and must not drift: data parallelism across
pods (``data``) does not add GPUs to one pod, only ``tensor`` and ``dataLocal`` do.
"""

from __future__ import annotations

from typing import Any

from shared.api import ParallelismSpec

_RESOURCE_BY_ACCELERATOR = {
    "nvidia": "nvidia.com/gpu",
    "amd": "amd.com/gpu",
    "intel-gaudi": "habana.ai/gaudi",
    "google": "google.com/tpu",
}

ACCELERATOR_RESOURCES = frozenset(_RESOURCE_BY_ACCELERATOR.values())
"""Every extended resource that is an accelerator of some vendor."""


def gpu_resource_name(accelerator: str) -> str:
    """The extended resource of one accelerator; empty for ``cpu`` and unknown vendors."""
    return _RESOURCE_BY_ACCELERATOR.get(accelerator, "")


def parallel_sizes(parallelism: ParallelismSpec | None) -> tuple[int, int, int]:
    """(tensor, data, dataLocal), each at least 1 as the reference treats smaller values."""
    if parallelism is None:
        return 1, 1, 1
    return max(parallelism.tensor, 1), max(parallelism.data, 1), max(parallelism.data_local, 1)


def gpu_count(parallelism: ParallelismSpec | None) -> int:
    """Accelerators one pod needs: tensor x dataLocal (``data`` spans pods, so it is not counted)."""
    tensor, _, data_local = parallel_sizes(parallelism)
    return tensor * data_local


def inject_gpu_resources(resources: dict[str, Any], accelerator: str, count: int) -> dict[str, Any]:
    """A copy of ``resources`` with the accelerator requested and limited to ``count``.

    User values for the accelerator resource are overwritten: the count follows from parallelism,
    and a mismatch would either waste GPUs or start vLLM with fewer devices than it shards over.
    Extended resources must have requests equal to limits, so both are set.
    """
    # Two levels hold everything a ResourceRequirements has (maps of quantities, a list of claim
    # references); copying them is what the caller's value needs, at a fraction of deepcopy's cost.
    result = {k: _copy(v) for k, v in resources.items()}
    name = gpu_resource_name(accelerator)
    if accelerator == "cpu" or count <= 0 or not name:
        return result
    for key in ("limits", "requests"):
        result[key] = {**(result.get(key) or {}), name: str(count)}
    return result


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, list):
        return [dict(v) if isinstance(v, dict) else v for v in value]
    return value
