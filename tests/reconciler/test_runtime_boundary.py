"""The controller runtime stands alone: no module under reconciler/runtime imports the shared package
or a reconciler module outside the runtime, so the ModelService controller can change without it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

RUNTIME = Path(__file__).resolve().parents[2] / "reconciler" / "runtime"
PACKAGE = ("reconciler", "runtime")


def imported(source: str) -> list[str]:
    """Every module (or module.name) ``source``, a module of the runtime package, imports; relative
    imports resolved, imports inside functions and ``TYPE_CHECKING`` blocks included."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = list(PACKAGE[: len(PACKAGE) - node.level + 1]) if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.extend(f"{module}.{alias.name}" for alias in node.names)
    return found


def outside_runtime(name: str) -> bool:
    top, _, rest = name.partition(".")
    if top == "shared":
        return True
    return top == "reconciler" and not (rest == "runtime" or rest.startswith("runtime."))


def violations(source: str) -> list[str]:
    return [name for name in imported(source) if outside_runtime(name)]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from shared import api", ["shared.api"]),
        ("import shared.labels", ["shared.labels"]),
        ("from reconciler.apply import FIELDS", ["reconciler.apply.FIELDS"]),
        ("from reconciler import pods", ["reconciler.pods"]),
        ("from .. import watches", ["reconciler.watches"]),
        ("def f():\n    from reconciler.controller import Deps", ["reconciler.controller.Deps"]),
        ("from reconciler.runtime.client import Client", []),
        ("from reconciler.runtime import clock", []),
        ("from . import informer", []),
        ("import asyncio\nfrom kubernetes import config", []),
    ],
    ids=[
        "shared",
        "shared-plain-import",
        "controller-module",
        "controller-module-from-package",
        "relative-parent",
        "inside-a-function",
        "runtime-module",
        "runtime-from-package",
        "relative-sibling",
        "third-party",
    ],
)
def test_the_import_check_flags_what_lies_outside_the_runtime(source: str, expected: list[str]) -> None:
    assert violations(source) == expected


def test_no_runtime_module_imports_the_shared_package_or_the_controller() -> None:
    modules = sorted(RUNTIME.glob("*.py"))
    assert {m.stem for m in modules} >= {"cache", "client", "controller", "informer", "queue"}
    found = {m.name: violations(m.read_text()) for m in modules}
    assert found == {m.name: [] for m in modules}
