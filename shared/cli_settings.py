"""Operator settings for the offline command line: a settings file plus ``--set key=value`` overrides.

The file is the one the services take as ``--settings-file`` and is read by the same code
(:func:`shared.flags.read_file`); the overrides are dotted keys such as ``tracing.enabled=true`` or
``epp_flags.kv-cache-usage-percentage-metric=foo`` and win over the file. A render therefore shows
exactly what the reconciler would create with that file and those settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args, get_origin

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.alias_generators import to_snake

from shared import flags, yamlio
from shared.settings import OperatorSettings


def _target_type(path: list[str]) -> Any:
    """The annotation a dotted settings path assigns to; unknown keys raise InputError."""
    model: type[BaseModel] = OperatorSettings
    annotation: Any = None
    for i, part in enumerate(path):
        if annotation is not None and get_origin(annotation) is dict:
            if i != len(path) - 1:
                raise yamlio.InputError(f"--set {'.'.join(path)}: map entries have no sub-keys")
            return get_args(annotation)[1]
        name = part if part in model.model_fields else to_snake(part)
        if name not in model.model_fields:
            known = ", ".join(sorted(model.model_fields))
            raise yamlio.InputError(f"--set {'.'.join(path)}: unknown setting {part!r} (known: {known})")
        path[i] = name
        annotation = model.model_fields[name].annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        elif i != len(path) - 1 and get_origin(annotation) is not dict:
            raise yamlio.InputError(f"--set {'.'.join(path)}: {name!r} is not a group of settings")
    return annotation


def _scalar(raw: str, annotation: Any) -> Any:
    """The value as YAML reads it (true, 3, [a, b]), unless only the raw text fits (a version "1.0")."""
    parsed = yaml.safe_load(raw) if raw.strip() else ""
    try:
        TypeAdapter(annotation).validate_python(parsed)
    except ValidationError:
        return raw
    return parsed


def apply_override(data: dict[str, Any], assignment: str) -> None:
    """Apply one ``dotted.key=value`` to the raw settings mapping, in place."""
    key, sep, raw = assignment.partition("=")
    if not sep or not key:
        raise yamlio.InputError(f"--set {assignment!r}: expected key=value")
    path = key.split(".")
    value = _scalar(raw, _target_type(path))
    node = data
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[path[-1]] = value


def load_settings(settings_file: Path | None, overrides: list[str]) -> OperatorSettings:
    """Settings from ``--set`` overrides over an optional file; bad input raises InputError."""
    data: dict[str, Any] = {}
    for assignment in overrides:
        apply_override(data, assignment)
    file_data = {} if settings_file is None else flags.read_file(settings_file, OperatorSettings)
    try:
        return flags.resolve(OperatorSettings, [data, file_data])
    except ValidationError as e:
        raise yamlio.InputError(f"invalid settings: {flags.problems(e)}") from e
