"""Derived serving values: ports, mount path and the proxy decision, including runtime fallbacks."""

from __future__ import annotations

from typing import Any

import pytest

from shared.api import ModelService
from shared.builders import serving
from shared.names import Role
from tests.builders.factories import make_ms


def _unvalidated(**spec_changes: Any) -> ModelService:
    """A ModelService with values the schema forbids, as the reference tolerates them at runtime."""
    ms = make_ms({"routingProxy": {}})
    spec = ms.spec.model_copy(update=spec_changes)
    return ms.model_copy(update={"spec": spec})


@pytest.mark.parametrize(
    ("spec", "role", "expected"),
    [
        ({}, "decode", (8000, 8200, 8000, False)),
        ({"routingProxy": {}}, "decode", (8000, 8200, 8200, True)),
        ({"routingProxy": {}, "prefill": {}}, "prefill", (8000, 8200, 8000, False)),
        (
            {"engine": {"port": 9000}, "routingProxy": {"targetPort": 9100}},
            "decode",
            (9000, 9100, 9100, True),
        ),
    ],
    ids=["no proxy", "decode behind the proxy", "prefill never uses the proxy", "explicit ports"],
)
def test_ports_and_proxy(spec: dict[str, Any], role: Role, expected: tuple[int, int, int, bool]) -> None:
    ms = make_ms(spec)
    actual = (
        serving.engine_port(ms),
        serving.target_port(ms),
        serving.vllm_port(ms, role),
        serving.uses_proxy(ms, role),
    )
    assert actual == expected


def test_non_positive_ports_and_empty_mount_path_fall_back_like_the_reference() -> None:
    ms = make_ms({"routingProxy": {}})
    engine = ms.spec.engine.model_copy(update={"port": 0})
    proxy = ms.spec.routing_proxy.model_copy(update={"target_port": -1}) if ms.spec.routing_proxy else None
    model = ms.spec.model.model_copy(update={"mount_path": ""})
    broken = _unvalidated(engine=engine, routing_proxy=proxy, model=model)
    assert (serving.engine_port(broken), serving.target_port(broken), serving.mount_path(broken)) == (
        8000,
        8200,
        "/models",
    )
