"""The Endpoint Picker's plugin configuration texts and the hash that rolls EPP pods on change.

The texts are byte-for-byte the reference operator's, so the config hash (and with it the EPP pod
template) of a migrated ModelService does not change and the EPP is not restarted by a migration.
The EPP reads exactly one file: the prefill/decode profile set when prefill pods exist, the plain
scorer set otherwise.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from shared.api import ModelService

DEFAULT_PLUGINS_FILE = "default-plugins.yaml"
PD_CONFIG_FILE = "pd-config.yaml"

DEFAULT_PLUGINS_YAML = """\
apiVersion: inference.networking.x-k8s.io/v1alpha1
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

PD_CONFIG_YAML = """\
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


def plugins_config_file(ms: ModelService) -> str:
    """The one config file the EPP reads: the PD profiles when prefill pods exist."""
    return PD_CONFIG_FILE if ms.spec.prefill is not None else DEFAULT_PLUGINS_FILE


def epp_config_data(ms: ModelService) -> dict[str, str]:
    """The EPP ConfigMap's data: exactly one key, the file named by ``plugins_config_file``."""
    if ms.spec.prefill is not None:
        return {PD_CONFIG_FILE: PD_CONFIG_YAML}
    return {DEFAULT_PLUGINS_FILE: DEFAULT_PLUGINS_YAML}


def config_hash(data: Mapping[str, str]) -> str:
    """Lowercase hex SHA-256 over ``key + value`` of every entry, keys in sorted order.

    Same construction as the reference, so pod templates of migrated ModelServices hash alike.
    """
    digest = hashlib.sha256()
    for key in sorted(data):
        digest.update(key.encode())
        digest.update(data[key].encode())
    return digest.hexdigest()


def config_map_hash(ms: ModelService) -> str:
    """The hash of the ConfigMap data the operator builds for ``ms``."""
    return config_hash(epp_config_data(ms))
