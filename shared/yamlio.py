"""Reading and writing Kubernetes manifests as YAML or JSON, for the offline command line.

Reading keeps each document's position (file and 1-based document number) so every problem can
point at where it came from, and turns parser errors into :class:`InputError` with the file and
line instead of a traceback. Writing never emits YAML anchors, keeps the builders' key order and
prints multi-line strings (embedded config files) as literal blocks, so output diffs cleanly.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


class InputError(Exception):
    """Input that cannot be read or parsed; the message names the file (and line when known)."""


@dataclass(frozen=True)
class Document:
    """One parsed document and where it came from."""

    source: str
    index: int
    """1-based position in its file."""
    body: Any


def _yaml_error(source: str, err: yaml.YAMLError) -> InputError:
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark is not None else source
    problem = getattr(err, "problem", None) or str(err)
    return InputError(f"{where}: YAML syntax error: {problem}")


def parse_documents(text: str, source: str) -> list[Document]:
    """Every non-empty document of a YAML (or JSON, which is YAML) stream."""
    if source.endswith(".json"):
        try:
            return [Document(source, 1, json.loads(text))]
        except json.JSONDecodeError as e:
            raise InputError(f"{source}:{e.lineno}:{e.colno}: JSON syntax error: {e.msg}") from e
    try:
        bodies = list(yaml.safe_load_all(text))
    except yaml.YAMLError as e:
        raise _yaml_error(source, e) from e
    # Documents keep their position in the stream even when an empty one ("---" at the top) is skipped.
    return [Document(source, i, body) for i, body in enumerate(bodies, start=1) if body is not None]


def read_documents(path: Path) -> list[Document]:
    """Parse one file; ``-`` is not special here (the caller reads stdin itself)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise InputError(f"{path}: no such file or directory") from e
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read: {e}") from e
    return parse_documents(text, str(path))


def expand_paths(paths: list[Path]) -> Iterator[Path]:
    """Files as given; directories searched recursively for manifest files, in sorted order."""
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in MANIFEST_SUFFIXES)
        elif not path.exists():
            raise InputError(f"{path}: no such file or directory")
        else:
            yield path


class _Dumper(yaml.SafeDumper):
    """SafeDumper without anchors and with literal blocks for multi-line strings."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_Dumper.add_representer(str, _represent_str)


def dump_yaml(obj: Any, *, sort_keys: bool = False) -> str:
    """One YAML document; key order kept unless ``sort_keys``."""
    return yaml.dump(
        obj, Dumper=_Dumper, sort_keys=sort_keys, default_flow_style=False, allow_unicode=True, width=100
    )


def dump_yaml_documents(objs: list[Any]) -> str:
    """A multi-document YAML stream, each document introduced by ``---``."""
    return "".join(f"---\n{dump_yaml(obj)}" for obj in objs)
