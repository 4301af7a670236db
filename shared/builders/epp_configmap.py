"""The EPP ConfigMap: the one plugin configuration file the EPP reads (see ``shared.epp_config``),
in the schema of the operator's EPP generation."""

from __future__ import annotations

from shared import epp_config, labels, names
from shared.api import ModelService
from shared.builders import meta
from shared.builders.meta import Manifest
from shared.settings import OperatorSettings


def build_epp_configmap(ms: ModelService, settings: OperatorSettings) -> Manifest | None:
    """The EPP ConfigMap; always wanted. Its data hashes into the EPP pod template."""
    metadata = meta.object_meta(
        ms, names.epp_configmap_name(ms), labels.epp_meta_labels(ms, settings.version)
    )
    return meta.manifest(
        "v1", "ConfigMap", metadata, data=epp_config.epp_config_data(ms, settings.epp_generation)
    )
