"""The one error vocabulary of offline checks: a field path and a reason."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One finding of a check, e.g. ``Problem("spec.decode.replicas", "must be >= 0")``."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"
