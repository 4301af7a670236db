"""Kubernetes `Status` errors, shaped like the real API server's.

Every failure the local API server reports travels as a `StatusError` until the HTTP layer turns
it into a `Status` body. The constructors mirror the wording of `k8s.io/apimachinery/pkg/api/errors`
and `k8s.io/apimachinery/pkg/util/validation/field`, because clients (and tests) match on reason,
code, details and, often enough, on the message text itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

Manifest = dict[str, Any]

# Field error types: the `reason` of a StatusCause, and the words the real server prints for them.
REQUIRED = "FieldValueRequired"
INVALID = "FieldValueInvalid"
TYPE_INVALID = "FieldValueTypeInvalid"
NOT_SUPPORTED = "FieldValueNotSupported"
DUPLICATE = "FieldValueDuplicate"
FORBIDDEN = "FieldValueForbidden"
TOO_LONG = "FieldValueTooLong"
TOO_MANY = "FieldValueTooMany"

_TYPE_WORDS = {
    REQUIRED: "Required value",
    INVALID: "Invalid value",
    TYPE_INVALID: "Invalid value",
    NOT_SUPPORTED: "Unsupported value",
    DUPLICATE: "Duplicate value",
    FORBIDDEN: "Forbidden",
    TOO_LONG: "Too long",
    TOO_MANY: "Too many",
}
# These types never print the offending value (it may be huge or secret).
_VALUE_OMITTED = {REQUIRED, FORBIDDEN, TOO_LONG}


class _Omit:
    """Marker for a field error that has no value worth printing."""


OMIT: Any = _Omit()


def format_value(value: Any) -> str:
    """Print a bad value the way Go's field errors do: strings quoted, numbers bare."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


@dataclass(frozen=True, slots=True)
class FieldError:
    """One validation failure at a field path, e.g. `spec.replicas`."""

    type: str
    field: str
    value: Any = OMIT
    detail: str = ""

    def body(self) -> str:
        """The message without the field path (what a StatusCause carries)."""
        words = _TYPE_WORDS[self.type]
        if self.type not in _VALUE_OMITTED and self.value is not OMIT:
            words = f"{words}: {format_value(self.value)}"
        return f"{words}: {self.detail}" if self.detail else words

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}"


def required(path: str, detail: str = "") -> FieldError:
    return FieldError(REQUIRED, path, OMIT, detail)


def invalid(path: str, value: Any, detail: str) -> FieldError:
    return FieldError(INVALID, path, value, detail)


def not_supported(path: str, value: Any, allowed: list[str]) -> FieldError:
    detail = "supported values: " + ", ".join(json.dumps(v) for v in allowed) if allowed else ""
    return FieldError(NOT_SUPPORTED, path, value, detail)


@dataclass(slots=True)
class StatusError(Exception):
    """An API failure: HTTP code, machine reason, human message and optional details."""

    code: int
    reason: str
    message: str
    details: Manifest | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.code} {self.reason}: {self.message}"

    def status(self) -> Manifest:
        """The `Status` object sent as the response body."""
        body: Manifest = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def qualified(resource: str, group: str) -> str:
    """`deployments.apps`, or bare `configmaps` for the core group."""
    return f"{resource}.{group}" if group else resource


def _details(name: str, group: str, kind: str, **extra: Any) -> Manifest:
    out: Manifest = {}
    if name:
        out["name"] = name
    if group:
        out["group"] = group
    if kind:
        out["kind"] = kind
    out.update(extra)
    return out


def not_found(group: str, resource: str, name: str) -> StatusError:
    return StatusError(
        404,
        "NotFound",
        f'{qualified(resource, group)} "{name}" not found',
        _details(name, group, resource),
    )


def already_exists(group: str, resource: str, name: str) -> StatusError:
    return StatusError(
        409,
        "AlreadyExists",
        f'{qualified(resource, group)} "{name}" already exists',
        _details(name, group, resource),
    )


def conflict(group: str, resource: str, name: str, why: str | None = None) -> StatusError:
    why = why or "the object has been modified; please apply your changes to the latest version and try again"
    return StatusError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {qualified(resource, group)} "{name}": {why}',
        _details(name, group, resource),
    )


def invalid_object(kind: str, group: str, name: str, errors: list[FieldError]) -> StatusError:
    """422 Invalid with one cause per field error, as `apierrors.NewInvalid` builds it."""
    qualified_kind = f"{kind}.{group}" if group else kind
    unique: list[FieldError] = []
    seen: set[str] = set()
    for err in errors:
        if str(err) not in seen:
            seen.add(str(err))
            unique.append(err)
    if not unique:
        text = ""
    elif len(unique) == 1:
        text = f": {unique[0]}"
    else:
        text = ": [" + ", ".join(str(e) for e in unique) + "]"
    causes = [{"reason": e.type, "message": e.body(), "field": e.field} for e in errors]
    return StatusError(
        422,
        "Invalid",
        f'{qualified_kind} "{name}" is invalid{text}',
        _details(name, group, kind, causes=causes),
    )


def bad_request(message: str) -> StatusError:
    return StatusError(400, "BadRequest", message)


def forbidden(group: str, resource: str, name: str, why: str) -> StatusError:
    return StatusError(
        403,
        "Forbidden",
        f'{qualified(resource, group)} "{name}" is forbidden: {why}',
        _details(name, group, resource),
    )


def method_not_allowed() -> StatusError:
    return StatusError(
        405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
    )


def unsupported_media_type(content_type: str) -> StatusError:
    return StatusError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - "
        f"accepted media types include: application/json-patch+json, "
        f"application/merge-patch+json, application/strategic-merge-patch+json"
        f" (got {content_type!r})",
    )


def gone(message: str) -> StatusError:
    return StatusError(410, "Expired", message)


def internal(message: str) -> StatusError:
    return StatusError(
        500,
        "InternalError",
        f"Internal error occurred: {message}",
        {"causes": [{"message": message}]},
    )


def too_many_requests(retry_after: int) -> StatusError:
    return StatusError(
        429,
        "TooManyRequests",
        "the server has received too many requests and has asked us to try again later",
        {"retryAfterSeconds": retry_after},
        {"Retry-After": str(retry_after)},
    )


def service_unavailable(message: str = "the server is currently unable to handle the request") -> StatusError:
    return StatusError(503, "ServiceUnavailable", message)


def resource_not_found() -> StatusError:
    """What the real server answers for a path that names no known resource."""
    return StatusError(404, "NotFound", "the server could not find the requested resource", {})
