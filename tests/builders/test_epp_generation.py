"""The EPP generation setting: the llm-d router's config, image, Role and pod template.

The default generation's output is pinned by the existing golden tests (test_epp_*.py); here it is
only shown to be what an explicit ``gateway-api-inference-extension`` renders as well.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared import epp_config
from shared.builders import build_all, epp_configmap, epp_deployment, epp_rbac
from shared.settings import OperatorSettings
from tests.builders import llm_d_router_schema
from tests.builders.factories import EPP_META, PD_VARIANT, VERSION, make_ms
from tests.builders.test_epp_deployment import EXAMPLE_EPP_DEPLOYMENT
from tests.builders.test_epp_rbac import BASE_RULES, LEADER_RULES
from tests.support import schemacheck

ROUTER = OperatorSettings(version=VERSION, epp_generation="llm-d-router")
GIE = OperatorSettings(version=VERSION, epp_generation="gateway-api-inference-extension")
ROUTER_IMAGE = "ghcr.io/llm-d/llm-d-router-endpoint-picker:v0.10.0"
ROUTER_DEFAULT_HASH = "6117b9e8148486e69e047c401ee6a72cab1b8883422ea95598e8ef5e29545438"
ROUTER_PD_HASH = "09355550598ba221e82dfb6da3edc84188a318763a0d9dda77e04a0e8e102a5e"
LLM_D_OBJECTIVES_RULE = {
    "apiGroups": ["llm-d.ai"],
    "resources": ["inferenceobjectives", "inferencemodelrewrites"],
    "verbs": ["get", "watch", "list"],
}
ROUTER_TEXTS = [epp_config.LLM_D_ROUTER_DEFAULT_PLUGINS_YAML, epp_config.LLM_D_ROUTER_PD_CONFIG_YAML]


@pytest.mark.parametrize("text", ROUTER_TEXTS, ids=["default plugins", "pd config"])
def test_router_configs_load_in_the_llm_d_router(text: str) -> None:
    assert llm_d_router_schema.problems(text) == []
    assert not text.startswith("\n") and text.endswith("\n") and not text.endswith("\n\n")


@pytest.mark.parametrize(
    ("gie_text", "router_text"),
    [
        (epp_config.DEFAULT_PLUGINS_YAML, epp_config.LLM_D_ROUTER_DEFAULT_PLUGINS_YAML),
        (epp_config.PD_CONFIG_YAML, epp_config.LLM_D_ROUTER_PD_CONFIG_YAML),
    ],
    ids=["default plugins", "pd config"],
)
def test_router_configs_keep_the_reference_profiles_in_the_new_schema(
    gie_text: str, router_text: str
) -> None:
    gie, router = yaml.safe_load(gie_text), yaml.safe_load(router_text)
    assert (gie["apiVersion"], router["apiVersion"]) == (
        "inference.networking.x-k8s.io/v1alpha1",
        "llm-d.ai/v1alpha1",
    )
    assert router["schedulingProfiles"] == gie["schedulingProfiles"]


def test_reference_configs_are_not_router_configs() -> None:
    assert llm_d_router_schema.problems(epp_config.PD_CONFIG_YAML) == [
        "apiVersion: Input should be 'llm-d.ai/v1alpha1'"
    ]


def _pd_config() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(epp_config.LLM_D_ROUTER_PD_CONFIG_YAML)
    return loaded


def _plugin(config: dict[str, Any], plugin_type: str) -> dict[str, Any]:
    found: dict[str, Any] = next(p for p in config["plugins"] if p["type"] == plugin_type)
    return found


def _move_decider_last(config: dict[str, Any]) -> None:
    decider = _plugin(config, "prefix-based-pd-decider")
    config["plugins"].remove(decider)
    config["plugins"].append(decider)


BROKEN: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    (
        "the reference's apiVersion",
        lambda c: c.update(apiVersion="inference.networking.x-k8s.io/v1alpha1"),
        "apiVersion",
    ),
    ("an unknown field (strict decoding)", lambda c: c.update(schedulingProfile=[]), "schedulingProfile"),
    ("a plugin without a type", lambda c: c["plugins"].append({"name": "x"}), "plugins.8.type"),
    (
        "an unregistered plugin type",
        lambda c: c["plugins"].append({"type": "no-such-scorer"}),
        "'no-such-scorer' is not registered",
    ),
    (
        "the reference's feature gate",
        lambda c: c.update(featureGates=["prepareDataPlugins"]),
        "'prepareDataPlugins' is unknown",
    ),
    (
        "a dangling plugin reference",
        lambda c: c["schedulingProfiles"][0]["plugins"].append({"pluginRef": "gone"}),
        "unknown plugin 'gone'",
    ),
    ("a duplicate plugin", lambda c: c["plugins"].append({"type": "queue-scorer"}), "duplicate plugin"),
    (
        "a second profile handler",
        lambda c: c["plugins"].append({"type": "single-profile-handler"}),
        "multiple profile handlers",
    ),
    (
        "two profiles without a profile handler",
        lambda c: c["plugins"].remove(_plugin(c, "disagg-profile-handler")),
        "single profile handler",
    ),
    ("a decider declared after its handler", _move_decider_last, "prefill decider"),
]


@pytest.mark.parametrize(("mutate", "expected"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_the_router_schema_check_rejects_what_the_router_refuses(
    mutate: Callable[[dict[str, Any]], None], expected: str
) -> None:
    config = _pd_config()
    mutate(config)
    found = llm_d_router_schema.problems(yaml.safe_dump(config, sort_keys=False))
    assert any(expected in problem for problem in found), found


@pytest.mark.parametrize(
    ("spec", "key", "text", "config_hash"),
    [
        ({}, "default-plugins.yaml", epp_config.LLM_D_ROUTER_DEFAULT_PLUGINS_YAML, ROUTER_DEFAULT_HASH),
        ({"prefill": {}}, "pd-config.yaml", epp_config.LLM_D_ROUTER_PD_CONFIG_YAML, ROUTER_PD_HASH),
    ],
    ids=["without prefill", "with prefill"],
)
def test_router_configmap_holds_its_one_plugin_file(
    spec: dict[str, Any], key: str, text: str, config_hash: str
) -> None:
    ms = make_ms(spec)
    assert epp_configmap.build_epp_configmap(ms, ROUTER) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": EPP_META | {"name": "qwen3-0-6b-epp-config"},
        "data": {key: text},
    }
    assert epp_config.config_map_hash(ms, "llm-d-router") == config_hash


def test_router_deployment_differs_from_the_reference_in_image_and_config_hash_only() -> None:
    expected = copy.deepcopy(EXAMPLE_EPP_DEPLOYMENT)
    template = expected["spec"]["template"]
    template["metadata"]["annotations"] = {"checksum/config": ROUTER_DEFAULT_HASH}
    template["spec"]["containers"][0]["image"] = ROUTER_IMAGE
    assert epp_deployment.build_epp_deployment(make_ms(), ROUTER) == expected


@pytest.mark.parametrize(
    ("settings", "service_name"),
    [(GIE, "gateway-api-inference-extension"), (ROUTER, "llm-d-router/epp")],
    ids=["reference", "llm-d router"],
)
def test_traces_are_named_after_the_generation(settings: OperatorSettings, service_name: str) -> None:
    traced = settings.model_copy(update={"tracing": settings.tracing.model_copy(update={"enabled": True})})
    env = epp_deployment.epp_env(traced)
    assert next(e for e in env if e["name"] == "OTEL_SERVICE_NAME") == {
        "name": "OTEL_SERVICE_NAME",
        "value": service_name,
    }


def test_a_pinned_picker_image_is_kept_under_the_router_generation() -> None:
    ms = make_ms({"inferencePool": {"endpointPicker": {"image": "reg/epp:7"}}})
    built = epp_deployment.build_epp_deployment(ms, ROUTER)
    assert built is not None
    assert built["spec"]["template"]["spec"]["containers"][0]["image"] == "reg/epp:7"


@pytest.mark.parametrize(
    ("replicas", "expected_rules"),
    [
        (1, [*BASE_RULES[:2], LLM_D_OBJECTIVES_RULE, BASE_RULES[2]]),
        (3, [*BASE_RULES[:2], LLM_D_OBJECTIVES_RULE, BASE_RULES[2], *LEADER_RULES]),
    ],
    ids=["one replica", "leader election"],
)
def test_router_role_also_reads_the_llm_d_objectives(
    replicas: int, expected_rules: list[dict[str, Any]]
) -> None:
    ms = make_ms({"inferencePool": {"endpointPicker": {"replicas": replicas}}})
    role = epp_rbac.build_epp_role(ms, ROUTER)
    assert role is not None
    assert role["rules"] == expected_rules


@pytest.mark.parametrize("spec", [{}, PD_VARIANT], ids=["plain", "prefill/decode"])
def test_an_explicit_reference_generation_renders_the_defaults(spec: dict[str, Any]) -> None:
    ms = make_ms(spec)
    assert build_all(ms, GIE).objects == build_all(ms, OperatorSettings(version=VERSION)).objects


@pytest.mark.parametrize("spec", [{}, PD_VARIANT], ids=["plain", "prefill/decode"])
def test_the_router_generation_changes_only_the_epp_config_deployment_and_role(spec: dict[str, Any]) -> None:
    ms = make_ms(spec)

    def by_key(settings: OperatorSettings) -> dict[tuple[str, str], dict[str, Any]]:
        return {(o["kind"], o["metadata"]["name"]): o for o in build_all(ms, settings).objects}

    reference, router = by_key(GIE), by_key(ROUTER)
    assert reference.keys() == router.keys()
    changed = sorted(key for key in reference if reference[key] != router[key])
    assert changed == [
        ("ConfigMap", "qwen3-0-6b-epp-config"),
        ("Deployment", "qwen3-0-6b-epp"),
        ("Role", "qwen3-0-6b-epp"),
    ]


@pytest.mark.parametrize("spec", [{}, PD_VARIANT], ids=["plain", "prefill/decode"])
def test_every_child_under_the_router_generation_conforms(spec: dict[str, Any], team_data_dir: Path) -> None:
    failures = {
        f"{o['kind']} {o['metadata']['name']}": errors
        for o in build_all(make_ms(spec), ROUTER).objects
        if (errors := schemacheck.validate_child(o, team_data_dir))
    }
    assert failures == {}
