"""The Endpoint Picker's plugin configuration texts and the hash that rolls EPP pods on change.

The EPP reads exactly one file: the prefill/decode profile set when prefill pods exist, the plain
scorer set otherwise. Each EPP generation (``shared.settings.EppGeneration``) has its own pair of
texts. The default generation's are byte-for-byte the reference operator's, so the config hash (and
with it the EPP pod template) of a migrated ModelService does not change and the EPP is not
restarted by a migration. The llm-d router's texts configure the same scorers, weights and profiles
in that project's schema; switching generations changes the hash and so re-creates the EPP pods.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from shared.api import ModelService
from shared.settings import DEFAULT_EPP_GENERATION, EppGeneration

DEFAULT_PLUGINS_FILE = "default-plugins.yaml"
PD_CONFIG_FILE = "pd-config.yaml"

# The plain scorer set, and the prefill/decode profiles, are the same in both generations' schemas;
# only what surrounds them differs.
_PLAIN_SET = """\
kind: EndpointPickerConfig
plugins:
- type: queue-scorer
- type: kv-cache-utilization-scorer
- type: prefix-cache-scorer
schedulingProfiles:
- name: default
  plugins:
  - pluginRef: queue-scorer
    weight: 2
  - pluginRef: kv-cache-utilization-scorer
    weight: 2
  - pluginRef: prefix-cache-scorer
    weight: 3
"""

_PD_PROFILES = """\
schedulingProfiles:
- name: prefill
  plugins:
  - pluginRef: prefill-filter
  - pluginRef: max-score-picker
  - pluginRef: prefix-cache-scorer
    weight: 2
  - pluginRef: queue-scorer
    weight: 1
- name: decode
  plugins:
  - pluginRef: decode-filter
  - pluginRef: max-score-picker
  - pluginRef: prefix-cache-scorer
    weight: 2
  - pluginRef: queue-scorer
    weight: 1
"""

DEFAULT_PLUGINS_YAML = "apiVersion: inference.networking.x-k8s.io/v1alpha1\n" + _PLAIN_SET

PD_CONFIG_YAML = (
    """\
apiVersion: inference.networking.x-k8s.io/v1alpha1
kind: EndpointPickerConfig
featureGates:
- prepareDataPlugins
plugins:
- type: prefill-header-handler
- type: prefix-cache-scorer
  parameters:
    maxPrefixBlocksToMatch: 256
    lruCapacityPerServer: 31250
- type: queue-scorer
- type: prefill-filter
- type: decode-filter
- type: max-score-picker
- type: prefix-based-pd-decider
  parameters:
    nonCachedTokens: 16
- type: pd-profile-handler
  parameters:
    primaryPort: 0
    deciderPluginName: prefix-based-pd-decider
"""
    + _PD_PROFILES
)


# The llm-d router's equivalents of the texts above, in llm-d/llm-d-router's own terms. Its schema
# is llm-d.ai/v1alpha1 since it took the EPP over from the Gateway API Inference Extension
# (RELEASE-NOTES.md, PR 972); it still loads the old group with a deprecation warning, and its later
# llm-d.ai/v1 loads v1alpha1 by conversion (pkg/epp/config/loader/configloader.go, conversion_test.go).
# - plain set: the scorers and weights of its chart's default-plugins.yaml
#   (config/charts/routerlib/templates/_config.yaml). The prefix-cache-scorer's data producer
#   (approx-prefix-cache-producer), the profile handler and the picker are filled in by its loader.
# - PD set: its sample deploy/config/pd-epp-config.yaml. The prefix matching parameters moved from
#   the scorer to approx-prefix-cache-producer and count tokens: the sample's 4096 are the
#   reference's 256 blocks at vLLM's default block size of 16 tokens;
#   disagg-profile-handler replaces pd-profile-handler and, setting the prefill host header itself,
#   the prefill-header-handler (both deprecated: pkg/epp/framework/plugins/scheduling/profilehandler/
#   disagg/README.md); the router no longer knows the prepareDataPlugins gate: producers always run.
LLM_D_ROUTER_DEFAULT_PLUGINS_YAML = "apiVersion: llm-d.ai/v1alpha1\n" + _PLAIN_SET

LLM_D_ROUTER_PD_CONFIG_YAML = (
    """\
apiVersion: llm-d.ai/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: approx-prefix-cache-producer
  parameters:
    maxPrefixTokensToMatch: 4096
    lruCapacityPerServer: 31250
- type: prefix-cache-scorer
- type: queue-scorer
- type: prefill-filter
- type: decode-filter
- type: max-score-picker
- type: prefix-based-pd-decider
  parameters:
    nonCachedTokens: 16
- type: disagg-profile-handler
  parameters:
    deciders:
      prefill: prefix-based-pd-decider
"""
    + _PD_PROFILES
)

_TEXTS: dict[EppGeneration, tuple[str, str]] = {
    "gateway-api-inference-extension": (DEFAULT_PLUGINS_YAML, PD_CONFIG_YAML),
    "llm-d-router": (LLM_D_ROUTER_DEFAULT_PLUGINS_YAML, LLM_D_ROUTER_PD_CONFIG_YAML),
}


def plugins_config_file(ms: ModelService) -> str:
    """The one config file the EPP reads: the PD profiles when prefill pods exist."""
    return PD_CONFIG_FILE if ms.spec.prefill is not None else DEFAULT_PLUGINS_FILE


def epp_config_data(ms: ModelService, generation: EppGeneration = DEFAULT_EPP_GENERATION) -> dict[str, str]:
    """The EPP ConfigMap's data: exactly one key, the file named by ``plugins_config_file``, in the
    schema of the EPP ``generation``."""
    plain, pd = _TEXTS[generation]
    if ms.spec.prefill is not None:
        return {PD_CONFIG_FILE: pd}
    return {DEFAULT_PLUGINS_FILE: plain}


def config_hash(data: Mapping[str, str]) -> str:
    """Lowercase hex SHA-256 over ``key + value`` of every entry, keys in sorted order.

    Same construction as the reference, so pod templates of migrated ModelServices hash alike.
    """
    digest = hashlib.sha256()
    for key in sorted(data):
        digest.update(key.encode())
        digest.update(data[key].encode())
    return digest.hexdigest()


def config_map_hash(ms: ModelService, generation: EppGeneration = DEFAULT_EPP_GENERATION) -> str:
    """The hash of the ConfigMap data the operator builds for ``ms`` and the EPP ``generation``."""
    return config_hash(epp_config_data(ms, generation))
