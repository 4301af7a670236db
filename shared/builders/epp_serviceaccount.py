"""The EPP ServiceAccount: the identity the EPP Role, ClusterRole and metrics token are bound to."""

from __future__ import annotations

from shared import labels, names
from shared.api import ModelService
from shared.builders import meta
from shared.builders.meta import Manifest
from shared.settings import OperatorSettings


def build_epp_service_account(ms: ModelService, settings: OperatorSettings) -> Manifest | None:
    """The EPP ServiceAccount; always wanted."""
    metadata = meta.object_meta(ms, names.epp_name(ms), labels.epp_meta_labels(ms, settings.version))
    return meta.manifest("v1", "ServiceAccount", metadata)
