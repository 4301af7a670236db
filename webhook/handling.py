"""One request body in, one HTTP answer out: JSON decoding, bad-request handling, encoding.

Kept apart from aiohttp so the property tests can throw thousands of bodies at it without sockets.
JSON goes through orjson: decoding and encoding were a third of the admission work with the
standard library. Everything a client can send maps to a 200 with an AdmissionReview or a 400 with
an AdmissionReview that explains the problem (`allowed: false`, code 400); an exception escaping
from here is a bug.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import orjson

from shared.settings import OperatorSettings
from webhook import admission, reviews

JSON_TYPES = frozenset({"application/json"})


class Answer(NamedTuple):
    """What the HTTP layer sends back, plus the facts logs and metrics need.

    A named tuple: built once per request, and a frozen dataclass's `__init__` cost more.
    """

    status: int
    body: bytes
    uid: str
    operation: str
    verdict: admission.Verdict
    reason: str
    """Denial reason (Invalid, Forbidden) or BadRequest; empty when allowed."""
    message: str
    user: str = ""
    """Who asked (the request's userInfo.username), for the log."""
    target: str = ""
    """The object asked about, `namespace/name`, for the log."""


def handle(
    body: bytes,
    content_type: str,
    hook: admission.Hook,
    settings: OperatorSettings,
    *,
    persist_images: bool = True,
    memos: admission.Memos | None = None,
) -> Answer:
    """Answer one admission request body; `memos` must belong to `settings` (see `admission.Memos`)."""
    try:
        if content_type not in JSON_TYPES:
            raise reviews.BadRequest(f"content type must be application/json, got {content_type or 'none'!r}")
        try:
            decoded = orjson.loads(body)
        except orjson.JSONDecodeError as e:
            raise reviews.BadRequest(f"body is not valid JSON: {str(e)[:200]}") from e
        review = admission.review(decoded, settings, hook, persist_images=persist_images, memos=memos)
    except reviews.BadRequest as e:
        encoded = orjson.dumps(reviews.bad_request_review(e))
        return Answer(400, encoded, e.uid, "unknown", "bad_request", "BadRequest", e.message)
    response = review["response"]
    status = response.get("status")
    verdict = admission.verdict(review)
    reason = status["reason"] if status is not None else ""
    message = status["message"] if status is not None else ""
    request = decoded["request"]
    user = request.get("userInfo")
    username = user.get("username") if isinstance(user, dict) else None
    return Answer(
        200,
        orjson.dumps(review),
        response["uid"],
        request["operation"],
        verdict,
        reason,
        message,
        username[:256] if isinstance(username, str) else "",
        _target(request),
    )


def _target(request: dict[str, Any]) -> str:
    name, namespace = request.get("name"), request.get("namespace")
    name = name if isinstance(name, str) and name else "(unnamed)"
    return f"{namespace}/{name}"[:512] if isinstance(namespace, str) and namespace else name[:512]


def bad_request(message: str, status: int = 400) -> Answer:
    """An answer decided before the body was read: too large (400), or too late (408)."""
    error = reviews.BadRequest(message)
    encoded = orjson.dumps(reviews.bad_request_review(error))
    return Answer(status, encoded, "", "unknown", "bad_request", "BadRequest", message)
