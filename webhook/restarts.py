"""Which serving pods an UPDATE restarts, found by building the old and new pod templates.

A Deployment rolls its pods exactly when `spec.template` changes, so the honest answer comes from
the shared builders rather than from a hand-kept list of "fields that restart pods". Only the
Deployments are built (not every child), and only on UPDATE.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from shared.api import ModelService
from shared.builders import deployment, epp_deployment
from shared.builders.defaults import apply_image_defaults
from shared.builders.meta import Manifest
from shared.settings import OperatorSettings

Builder = Callable[[ModelService, OperatorSettings], Manifest | None]


POD_BUILDERS: tuple[tuple[str, Builder], ...] = (
    ("decode", deployment.build_decode_deployment),
    ("prefill", deployment.build_prefill_deployment),
    ("EPP", epp_deployment.build_epp_deployment),
)


def restart_warnings(old: Mapping[str, Any], new: ModelService, settings: OperatorSettings) -> list[str]:
    """One warning naming the pods whose template changes; none when nothing restarts.

    An old object that no longer parses (stored before a rule existed) yields no warning rather
    than a failure: the update itself is what matters.
    """
    try:
        before = apply_image_defaults(ModelService.model_validate(old), settings)
    except ValidationError:
        return []
    after = apply_image_defaults(new, settings)
    restarting = []
    for label, build in POD_BUILDERS:
        was, will = _template(build, before, settings), _template(build, after, settings)
        if was is not None and will is not None and was != will:
            restarting.append(label)
    if not restarting:
        return []
    return [f"this change restarts the {', '.join(restarting)} pods (their pod template changes)"]


def _template(build: Builder, ms: ModelService, settings: OperatorSettings) -> Any:
    built = build(ms, settings)
    return built["spec"]["template"] if built is not None else None
