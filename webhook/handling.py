"""One request body in, one HTTP answer out: JSON decoding, bad-request handling, encoding.

Kept apart from aiohttp so the property tests can throw thousands of bodies at it without sockets.
Everything a client can send maps to a 200 with an AdmissionReview or a 400 with an AdmissionReview
that explains the problem (`allowed: false`, code 400); an exception escaping from here is a bug.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from shared.settings import OperatorSettings
from webhook import admission, reviews

JSON_TYPES = frozenset({"application/json"})


@dataclass(frozen=True)
class Answer:
    """What the HTTP layer sends back, plus the facts logs and metrics need."""

    status: int
    body: bytes
    uid: str
    operation: str
    verdict: admission.Verdict
    reason: str
    """Denial reason (Invalid, Forbidden) or BadRequest; empty when allowed."""
    message: str


def handle(
    body: bytes,
    content_type: str,
    hook: admission.Hook,
    settings: OperatorSettings,
    *,
    persist_images: bool = True,
) -> Answer:
    """Answer one admission request body."""
    try:
        if content_type not in JSON_TYPES:
            raise reviews.BadRequest(f"content type must be application/json, got {content_type or 'none'!r}")
        try:
            decoded = json.loads(body)
        except (ValueError, RecursionError) as e:
            raise reviews.BadRequest(f"body is not valid JSON: {str(e)[:200]}") from e
        review = admission.review(decoded, settings, hook, persist_images=persist_images)
    except reviews.BadRequest as e:
        encoded = json.dumps(reviews.bad_request_review(e), separators=(",", ":")).encode()
        return Answer(400, encoded, e.uid, "unknown", "bad_request", "BadRequest", e.message)
    response = review["response"]
    status = response.get("status")
    verdict = admission.verdict(review)
    reason = status["reason"] if status is not None else ""
    message = status["message"] if status is not None else ""
    operation = decoded["request"]["operation"]
    return Answer(
        200,
        json.dumps(review, separators=(",", ":")).encode(),
        response["uid"],
        operation,
        verdict,
        reason,
        message,
    )


def bad_request(message: str) -> Answer:
    """A 400 decided before the body was read (too large)."""
    error = reviews.BadRequest(message)
    encoded = json.dumps(reviews.bad_request_review(error), separators=(",", ":")).encode()
    return Answer(400, encoded, "", "unknown", "bad_request", "BadRequest", message)
