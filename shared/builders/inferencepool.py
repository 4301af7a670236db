"""The InferencePool: the model's serving pods as one gateway backend, with its EPP attached.

One pool per ModelService, named like it, always present: an explicit ``spec.inferencePool`` only
changes the EPP port and failure mode. The pool selector has no component key, so it selects decode
and prefill pods alike; the EPP tells them apart by the role label. The target port is the engine
port, which in decode pods with a routing proxy is the proxy's.
"""

from __future__ import annotations

from shared import labels, names
from shared.api import ModelService
from shared.builders import defaults, meta, serving
from shared.builders.meta import Manifest
from shared.settings import OperatorSettings

API_VERSION = "inference.networking.k8s.io/v1"
KIND = "InferencePool"
# Without an explicit inferencePool the reference fails closed: no EPP, no routing.
DEFAULT_FAILURE_MODE = "FailClose"


def _endpoint_picker_ref(ms: ModelService) -> Manifest:
    """The reference to the EPP Service; group "" (the core group) is emitted explicitly."""
    pool = ms.spec.inference_pool
    port = defaults.DEFAULT_EPP_PORT
    failure_mode = DEFAULT_FAILURE_MODE
    if pool is not None:
        port = defaults.epp_port(pool.endpoint_picker)
        failure_mode = pool.endpoint_picker.failure_mode or DEFAULT_FAILURE_MODE
    return {
        "group": "",
        "kind": "Service",
        "name": names.epp_name(ms),
        "port": {"number": port},
        "failureMode": failure_mode,
    }


def build_inference_pool(ms: ModelService, settings: OperatorSettings) -> Manifest | None:
    """The InferencePool; always wanted (explicit or default settings)."""
    metadata = meta.object_meta(
        ms, names.inference_pool_name(ms), labels.pool_meta_labels(ms, settings.version)
    )
    spec: Manifest = {
        "targetPorts": [{"number": serving.engine_port(ms)}],
        "selector": {"matchLabels": labels.pool_selector_labels(ms)},
        "endpointPickerRef": _endpoint_picker_ref(ms),
    }
    return meta.manifest(API_VERSION, KIND, metadata, spec=spec)
