"""Operator settings for the offline command line: a settings file plus ``--set key=value`` overrides.

The services read :class:`~shared.settings.OperatorSettings` from flags; the command line reads the
same model from a YAML/JSON file (snake_case keys, camelCase accepted) and dotted overrides such as
``tracing.enabled=true`` or ``epp_flags.kv-cache-usage-percentage-metric=foo``, so a render shows
exactly what the reconciler would create with those flags.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args, get_origin

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.alias_generators import to_snake

from shared import yamlio
from shared.settings import OperatorSettings


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _snake_keys(model: type[BaseModel], data: Any) -> Any:
    """Accept camelCase keys for model fields; keys of free-form maps (epp_flags) stay untouched."""
    if not isinstance(data, dict):
        return data
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = key if key in model.model_fields else to_snake(str(key))
        field = model.model_fields.get(name)
        if field is not None and _is_model(field.annotation):
            value = _snake_keys(field.annotation, value)  # type: ignore[arg-type]
        out[name] = value
    return out


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
        if _is_model(annotation):
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
    """Settings from an optional file and ``--set`` overrides; bad input raises InputError."""
    data: dict[str, Any] = {}
    if settings_file is not None:
        docs = yamlio.read_documents(settings_file)
        if len(docs) > 1 or (docs and not isinstance(docs[0].body, dict)):
            raise yamlio.InputError(f"{settings_file}: expected one mapping of settings")
        data = _snake_keys(OperatorSettings, docs[0].body if docs else {})
    for assignment in overrides:
        apply_override(data, assignment)
    try:
        return OperatorSettings.model_validate(data)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors(include_url=False)
        )
        raise yamlio.InputError(f"invalid settings: {problems}") from e
