"""A finding of the derived-name check (`shared.namecheck`): a field path and a reason.

Not the error vocabulary of validation: `shared.validation` turns each Problem into a
`spec_rules.FieldError` (which adds the Kubernetes cause type), and those become the webhook's
denial causes and the offline tools' reports. Unreadable input to the offline tools is a
`yamlio.InputError` instead.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One finding of a check, e.g. ``Problem("spec.decode.replicas", "must be >= 0")``."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"
