"""The runtime's error vocabulary.

``TerminalError`` means "the object is wrong, retrying will not help"; ``ReconcileFailed`` means
"this reconcile failed and said why; retry with backoff". Everything else is an API failure,
typed by what the caller does about it: ``NotFound`` (gone: fine when deleting),
``Conflict``/``AlreadyExists`` (stale cache: requeue), ``Gone`` (resourceVersion too old: relist),
and the rest, which retry with backoff (``retryable`` says whether that is likely to help, and
``retry_after`` carries the server's Retry-After hint).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class TerminalError(Exception):
    """A spec the controller cannot act on; recorded on the status and not retried."""


class ReconcileFailed(Exception):
    """A reconcile failed after recording why (on the object's status, say); retried with backoff,
    waiting at least ``retry_after`` seconds when the API server asked for that."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ApiError(Exception):
    """A failed API request: HTTP status (0 for transport failures), Kubernetes reason and message."""

    def __init__(self, status: int, reason: str, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(f"{message} ({status} {reason})" if status else message)
        self.status = status
        self.reason = reason
        self.message = message
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.status == 0 or self.status == 429 or self.status >= 500


class NotFound(ApiError):
    """404: the object (or the resource type) does not exist."""


class Conflict(ApiError):
    """409 Conflict: the resourceVersion precondition failed; re-read and retry."""


class AlreadyExists(ApiError):
    """409 AlreadyExists: create of a name that exists (usually: the cache has not seen it yet)."""


class Gone(ApiError):
    """410: the requested resourceVersion is too old to watch from; list again."""


class Unauthorized(ApiError):
    """401: the credentials were rejected."""


class Forbidden(ApiError):
    """403: RBAC (or an admission webhook) denied the request."""


class Invalid(ApiError):
    """422: the object failed validation."""


class TooManyRequests(ApiError):
    """429: the API server's priority and fairness asks us to back off."""


class ServerError(ApiError):
    """5xx: the API server (or something behind it) failed."""


class TransportError(ApiError):
    """No HTTP answer: connection refused or reset, TLS failure, timeout."""

    def __init__(self, message: str) -> None:
        super().__init__(0, "TransportError", message)


_BY_STATUS: dict[int, type[ApiError]] = {
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    410: Gone,
    422: Invalid,
    429: TooManyRequests,
}


def error_for(status: int, body: Mapping[str, Any] | None, retry_after: str | None = None) -> ApiError:
    """The typed error for an HTTP status and its (optional) metav1.Status body."""
    body = body or {}
    reason = str(body.get("reason") or "")
    message = str(body.get("message") or f"HTTP {status}")
    delay = _parse_retry_after(retry_after)
    kind: type[ApiError]
    if status == 409:
        kind = AlreadyExists if reason == "AlreadyExists" else Conflict
    elif status >= 500:
        kind = ServerError
    else:
        kind = _BY_STATUS.get(status, ApiError)
    return kind(status, reason or kind.__name__, message, retry_after=delay)


def _parse_retry_after(value: str | None) -> float | None:
    """Retry-After in seconds; the HTTP-date form is not used by the Kubernetes API server."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
