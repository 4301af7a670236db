"""What the llm-d router's EPP accepts as its plugin configuration, as a test oracle.

Written from llm-d/llm-d-router, not from our builders:

- the shape: ``apix/config/v1alpha1/endpointpickerconfig_types.go`` (EndpointPickerConfig,
  PluginSpec, SchedulingProfile, SchedulingPlugin). The loader decodes it with the strict codec
  (``serializer.EnableStrict`` in ``pkg/epp/config/loader/configloader.go``), so unknown fields are
  errors, hence ``extra="forbid"``;
- the loader's checks, same file: every plugin type registered, unique plugin names (a name
  defaults to the type), profile plugin references resolve, one profile handler at most and none
  that is ``single-profile-handler`` for several profiles, no unknown feature gate;
- the disaggregation handler: ``pkg/epp/framework/plugins/scheduling/profilehandler/disagg/
  README.md`` (its ``deciders`` name decider plugins declared earlier in the file; the router's
  sample ``deploy/config/pd-epp-config.yaml`` declares the decider later, the oracle keeps the
  stricter documented rule).

The registered types listed are only those these sources name; a config that uses another type is
reported, which is the safe direction for an oracle.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

API_VERSION = "llm-d.ai/v1alpha1"

PROFILE_HANDLERS = frozenset({"single-profile-handler", "disagg-profile-handler", "pd-profile-handler"})
DECIDERS = frozenset({"prefix-based-pd-decider", "always-disagg-pd-decider"})
REGISTERED_TYPES = (
    PROFILE_HANDLERS
    | DECIDERS
    | {
        "queue-scorer",
        "kv-cache-utilization-scorer",
        "prefix-cache-scorer",
        "approx-prefix-cache-producer",
        "max-score-picker",
        "prefill-filter",
        "decode-filter",
    }
)
# The gates the loader's own test data enables (pkg/epp/config/loader/testdata_test.go).
FEATURE_GATES = frozenset({"dataLayer", "flowControl"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PluginSpec(_Strict):
    name: str = ""
    type: str = Field(min_length=1)
    parameters: dict[str, Any] | None = None


class SchedulingPlugin(_Strict):
    plugin_ref: str = Field(alias="pluginRef", min_length=1)
    weight: float | None = None


class SchedulingProfile(_Strict):
    name: str = Field(min_length=1)
    plugins: list[SchedulingPlugin]


class EndpointPickerConfig(_Strict):
    api_version: Literal["llm-d.ai/v1alpha1"] = Field(alias="apiVersion")
    kind: Literal["EndpointPickerConfig"]
    feature_gates: list[str] = Field(default_factory=list, alias="featureGates")
    plugins: list[PluginSpec]
    scheduling_profiles: list[SchedulingProfile] = Field(alias="schedulingProfiles")
    data_layer: dict[str, Any] | None = Field(default=None, alias="dataLayer")
    flow_control: dict[str, Any] | None = Field(default=None, alias="flowControl")
    request_handler: dict[str, Any] | None = Field(default=None, alias="requestHandler")
    saturation_detector: dict[str, Any] | None = Field(default=None, alias="saturationDetector")
    parser: dict[str, Any] | None = None


def problems(text: str) -> list[str]:
    """Every reason the llm-d router's loader would refuse ``text``; empty when it loads."""
    try:
        config = EndpointPickerConfig.model_validate(yaml.safe_load(text))
    except ValidationError as e:
        return [f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()]
    return _loader_problems(config)


def _loader_problems(config: EndpointPickerConfig) -> list[str]:
    found = [
        f"feature gate {gate!r} is unknown" for gate in config.feature_gates if gate not in FEATURE_GATES
    ]
    names = [p.name or p.type for p in config.plugins]
    found += [
        f"plugin type {p.type!r} is not registered" for p in config.plugins if p.type not in REGISTERED_TYPES
    ]
    found += [f"duplicate plugin name {n!r}" for n, count in Counter(names).items() if count > 1]
    found += [
        f"duplicate profile {n!r}"
        for n, c in Counter(p.name for p in config.scheduling_profiles).items()
        if c > 1
    ]
    found += [
        f"profile {profile.name!r} references unknown plugin {ref.plugin_ref!r}"
        for profile in config.scheduling_profiles
        for ref in profile.plugins
        if ref.plugin_ref not in names
    ]
    handlers = [p for p in config.plugins if p.type in PROFILE_HANDLERS]
    if len(handlers) > 1:
        found.append("multiple profile handlers")
    handler_type = handlers[0].type if handlers else "single-profile-handler"  # the loader's default
    if handler_type == "single-profile-handler" and len(config.scheduling_profiles) > 1:
        found.append("a single profile handler cannot serve several profiles")
    return found + _decider_problems(config, names)


def _decider_problems(config: EndpointPickerConfig, names: list[str]) -> list[str]:
    found: list[str] = []
    for index, plugin in enumerate(config.plugins):
        if plugin.type != "disagg-profile-handler":
            continue
        deciders = (plugin.parameters or {}).get("deciders") or {}
        earlier = {n: p.type for n, p in zip(names[:index], config.plugins[:index], strict=True)}
        for stage, decider in deciders.items():
            if earlier.get(decider) not in DECIDERS:
                found.append(f"{stage} decider {decider!r} is not a decider declared before the handler")
    return found
