"""The vLLM container: arguments, env, ports (NIXL parsing), resources and probes."""

from __future__ import annotations

from typing import Any

import pytest

from shared.builders import vllm
from shared.names import Role
from tests.builders.factories import SETTINGS, make_ms, settings


def _container(spec: dict[str, Any] | None = None, role: Role = "decode", **changes: Any) -> dict[str, Any]:
    built = vllm.build_vllm_container(make_ms(spec), settings(**changes) if changes else SETTINGS, role)
    assert built is not None
    return built


def _nixl(*values: str | None) -> dict[str, Any]:
    env: list[dict[str, Any]] = []
    for value in values:
        entry: dict[str, Any] = {"name": "VLLM_NIXL_SIDE_CHANNEL_PORT"}
        if value is not None:
            entry["value"] = value
        env.append(entry)
    return {"engine": {"env": env}}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (_nixl("5557"), 5557),
        (_nixl("+6123"), 6123),
        (_nixl("06123"), 6123),
        (_nixl("1"), 1),
        (_nixl("65535"), 65535),
        (_nixl("0"), None),
        (_nixl("-5"), None),
        (_nixl("70000"), None),
        (_nixl("0x10"), None),
        (_nixl("6 123"), None),
        (_nixl(" 6123"), None),
        (_nixl("6_123"), None),
        (_nixl("٦١٢٣"), None),
        (_nixl(""), None),
        (_nixl(None), None),
        (_nixl("abc", "5557"), None),
        (_nixl("5557", "6000"), 5557),
        ({"engine": {"env": [{"name": "OTHER", "value": "5557"}]}}, None),
    ],
    ids=[
        "plain decimal",
        "leading plus sign",
        "leading zero",
        "lowest port",
        "highest port",
        "zero is out of range",
        "negative is out of range",
        "above 65535 is out of range",
        "hex is not decimal",
        "inner space",
        "leading space",
        "underscore separator",
        "non-ascii digits",
        "empty value",
        "value from a source is ignored",
        "first entry wins even when invalid",
        "first entry wins when valid",
        "other variables are not inspected",
    ],
)
def test_nixl_side_channel_port_parsing(spec: dict[str, Any], expected: int | None) -> None:
    assert vllm.nixl_side_channel_port(make_ms(spec)) == expected


@pytest.mark.parametrize(
    ("spec", "role", "expected_ports"),
    [
        (_nixl("5557"), "decode", [("http", 8000), ("nixl-side", 5557)]),
        (_nixl("5557") | {"prefill": {}}, "prefill", [("http", 8000), ("nixl-side", 5557)]),
        (_nixl("8000"), "decode", [("http", 8000)]),
        (_nixl("8200") | {"routingProxy": {}}, "decode", [("http", 8200)]),
        (_nixl("8000") | {"routingProxy": {}}, "decode", [("http", 8200), ("nixl-side", 8000)]),
        (_nixl("junk"), "decode", [("http", 8000)]),
    ],
    ids=[
        "decode gets the nixl port",
        "prefill gets the nixl port",
        "port equal to the http port is not duplicated",
        "port equal to the proxied vllm port is not duplicated",
        "only vllm's own ports are checked, as in the reference",
        "invalid value adds nothing",
    ],
)
def test_container_ports(spec: dict[str, Any], role: Role, expected_ports: list[tuple[str, int]]) -> None:
    ports = _container(spec, role)["ports"]
    assert [(p["name"], p["containerPort"]) for p in ports] == expected_ports
    assert {p["protocol"] for p in ports} == {"TCP"}


@pytest.mark.parametrize(
    ("parallelism", "expected_flags", "expected_env"),
    [
        ({}, [], ["1", "1", "1"]),
        ({"tensor": 8}, ["--tensor-parallel-size", "8"], ["8", "1", "1"]),
        ({"data": 4}, ["--data-parallel-size", "4"], ["1", "4", "1"]),
        (
            {"tensor": 2, "data": 4, "dataLocal": 2},
            ["--tensor-parallel-size", "2", "--data-parallel-size", "4", "--data-parallel-size-local", "2"],
            ["2", "4", "2"],
        ),
    ],
    ids=["all ones adds no flags", "tensor parallel", "data parallel", "all three in order"],
)
def test_parallelism_flags_and_env(
    parallelism: dict[str, int], expected_flags: list[str], expected_env: list[str]
) -> None:
    container = _container({"decode": {"parallelism": parallelism}})
    assert container["args"] == [
        "/models",
        "--port",
        "8000",
        "--served-model-name",
        "Qwen/Qwen3-0.6B",
        *expected_flags,
    ]
    assert [e["value"] for e in container["env"][:3]] == expected_env
    assert [e["name"] for e in container["env"][:3]] == ["TP_SIZE", "DP_SIZE", "DP_SIZE_LOCAL"]


def test_user_args_and_env_are_appended_verbatim_after_the_generated_ones() -> None:
    spec = {
        "engine": {
            "args": ["--max-model-len", "4096"],
            "env": [
                {"name": "HF_HUB_OFFLINE", "value": "1"},
                {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf", "key": "token"}}},
            ],
        },
        "model": {"mountPath": "/mnt/model"},
    }
    container = _container(spec)
    assert container["args"] == [
        "/mnt/model",
        "--port",
        "8000",
        "--served-model-name",
        "Qwen/Qwen3-0.6B",
        "--max-model-len",
        "4096",
    ]
    assert container["env"][3:] == [
        {"name": "HF_HUB_OFFLINE", "value": "1"},
        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf", "key": "token"}}},
    ]
    assert container["volumeMounts"] == [{"name": "model", "mountPath": "/mnt/model", "readOnly": True}]


@pytest.mark.parametrize(
    ("engine", "expected_image", "expected_policy"),
    [
        ({}, "ghcr.io/llm-d/llm-d-cuda:v0.5.1", None),
        ({"image": "vllm/vllm-openai:v0.9", "imagePullPolicy": "Always"}, "vllm/vllm-openai:v0.9", "Always"),
    ],
    ids=["defaults from settings, no pull policy", "explicit image and pull policy"],
)
def test_image_and_pull_policy(
    engine: dict[str, Any], expected_image: str, expected_policy: str | None
) -> None:
    container = _container({"engine": engine})
    assert container["image"] == expected_image
    assert container.get("imagePullPolicy") == expected_policy


@pytest.mark.parametrize(
    ("accelerator", "parallelism", "resources", "expected"),
    [
        (
            "nvidia",
            {"tensor": 8},
            None,
            {"limits": {"nvidia.com/gpu": "8"}, "requests": {"nvidia.com/gpu": "8"}},
        ),
        (
            "amd",
            {"tensor": 2, "dataLocal": 2},
            None,
            {"limits": {"amd.com/gpu": "4"}, "requests": {"amd.com/gpu": "4"}},
        ),
        (
            "google",
            {"data": 4},
            None,
            {"limits": {"google.com/tpu": "1"}, "requests": {"google.com/tpu": "1"}},
        ),
        ("cpu", {"tensor": 4}, None, {}),
        (
            "cpu",
            {},
            {"requests": {"cpu": "8", "memory": "16Gi"}},
            {"requests": {"cpu": "8", "memory": "16Gi"}},
        ),
        (
            "intel-gaudi",
            {},
            {"limits": {"habana.ai/gaudi": "7", "memory": "64Gi"}, "requests": {"habana.ai/gaudi": "7"}},
            {"limits": {"habana.ai/gaudi": "1", "memory": "64Gi"}, "requests": {"habana.ai/gaudi": "1"}},
        ),
    ],
    ids=[
        "tensor parallel gpus",
        "tensor times data-local",
        "data parallel across pods adds no gpus",
        "cpu gets no accelerator",
        "cpu keeps user resources",
        "user gpu values are overwritten, others kept",
    ],
)
def test_resources_get_the_accelerator_count(
    accelerator: str, parallelism: dict[str, int], resources: dict[str, Any] | None, expected: dict[str, Any]
) -> None:
    decode: dict[str, Any] = {"parallelism": parallelism}
    if resources is not None:
        decode["resources"] = resources
    container = _container({"accelerator": {"type": accelerator}, "decode": decode})
    assert container["resources"] == expected


@pytest.mark.parametrize(
    ("budget", "expected_failures"),
    [(60, 6), (3600, 360), (605, 61)],
    ids=["minimum budget", "default hour", "partial period rounds up"],
)
def test_startup_probe_covers_the_model_load_budget(budget: int, expected_failures: int) -> None:
    probe = _container(engine_startup_timeout_seconds=budget)["startupProbe"]
    assert probe["periodSeconds"] * probe["failureThreshold"] >= budget
    assert probe["failureThreshold"] == expected_failures


@pytest.mark.parametrize("role", ["decode", "prefill"], ids=["decode", "prefill"])
def test_probes_hit_vllm_health_on_its_own_port(role: Role) -> None:
    container = _container({"routingProxy": {}, "prefill": {}}, role)
    http = next(p for p in container["ports"] if p["name"] == "http")
    for key in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[key]["httpGet"] == {"path": "/health", "port": "http"}
    assert http["containerPort"] == (8200 if role == "decode" else 8000)


def test_prefill_container_is_not_built_without_prefill() -> None:
    assert vllm.build_vllm_container(make_ms(), SETTINGS, "prefill") is None
