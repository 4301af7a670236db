"""One request body in, one HTTP answer out: JSON decoding, bad-request handling, encoding.

Kept apart from aiohttp so the property tests can throw thousands of bodies at it without sockets.
JSON goes through orjson: decoding and encoding were a third of the admission work with the
standard library. Everything a client can send maps to a 200 with an AdmissionReview or a 400 with
an AdmissionReview that explains the problem (`allowed: false`, code 400); an exception escaping
from here is a bug.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import orjson

from shared.settings import OperatorSettings
from webhook import admission, reviews
from webhook.memo import MAX_CONTENT_BYTES, Memo

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


class _Remembered(NamedTuple):
    """An answer without its uid: the encoded review split where the uid goes, and its labels."""

    head: bytes
    tail: bytes
    verdict: admission.Verdict
    reason: str
    message: str


class Answers:
    """Whole answers of recent requests (see `webhook.memo`), for one `OperatorSettings` and one
    `persist_images`, like `admission.Memos`.

    The same request comes again and again (a server-side dry run and then the write, retries,
    re-applies of an unchanged manifest); remembering its encoded answer skips the review, the
    memos' own keys and the encoding. Answers are held in bytes and strings only, so the garbage
    collector does not track them.
    """

    def __init__(self, size: int = 256) -> None:
        self.memo: Memo[_Remembered] = Memo(size)
        self.sent: Memo[_Sent] = Memo(size)
        """By the body as sent but for its uid (see `_sent_key`): a request sent again byte for byte
        under a new uid (a periodic server-side dry run of an unchanged manifest, a re-apply) is
        answered without even decoding its JSON. Filled on the second sighting of a review, so a
        body seen once costs no more than the key."""


class _Sent(NamedTuple):
    """What a body as sent is answered with, but for its uid."""

    answer: _Remembered
    operation: str
    user: str
    target: str


def handle(
    body: bytes,
    content_type: str,
    hook: admission.Hook,
    settings: OperatorSettings,
    *,
    persist_images: bool = True,
    memos: admission.Memos | None = None,
    answers: Answers | None = None,
) -> Answer:
    """Answer one admission request body; `memos` and `answers` must belong to `settings` and
    `persist_images` (see `admission.Memos`)."""
    sent = (
        _sent_key(body, hook, persist_images)
        if answers is not None and content_type in JSON_TYPES and len(body) <= MAX_CONTENT_BYTES
        else None
    )
    if sent is not None:
        assert answers is not None
        again = answers.sent.get(sent.key)
        if again is not None:
            return _answer(again.answer, sent.uid, again.operation, again.user, again.target)
    try:
        if content_type not in JSON_TYPES:
            raise reviews.BadRequest(f"content type must be application/json, got {content_type or 'none'!r}")
        try:
            decoded = orjson.loads(body)
        except orjson.JSONDecodeError as e:
            raise reviews.BadRequest(f"body is not valid JSON: {str(e)[:200]}") from e
        request = decoded.get("request") if isinstance(decoded, dict) else None
        uid = request.get("uid") if isinstance(request, dict) else None

        def judge() -> _Remembered:
            return _remembered(
                admission.review(decoded, settings, hook, persist_images=persist_images, memos=memos)
            )

        if answers is not None and isinstance(uid, str) and uid and len(body) <= MAX_CONTENT_BYTES:
            assert isinstance(request, dict)
            # The key holds every input of `admission.review` but the uid: a hit means the same
            # review passed `reviews.parse` before, and the uid was checked just above. A new input
            # of the review must be added here.
            key = orjson.dumps(
                [
                    hook,
                    persist_images,
                    decoded.get("apiVersion"),
                    decoded.get("kind"),
                    *(request.get(field) for field in _REVIEWED_FIELDS),
                ]
            )
            found = answers.memo.get(key)
            if found is None:
                remembered = judge()
                answers.memo.put(key, remembered)
            else:
                remembered = found
                # A review seen twice: its body as sent is worth remembering too.
                if sent is not None and _uid_is_at(sent, body, uid):
                    answers.sent.put(
                        sent.key, _Sent(remembered, request["operation"], _user(request), _target(request))
                    )
        else:
            remembered = judge()
    except reviews.BadRequest as e:
        encoded = orjson.dumps(reviews.bad_request_review(e))
        return Answer(400, encoded, e.uid, "unknown", "bad_request", "BadRequest", e.message)
    # `reviews.parse` accepted the request, or a request with the same key before: it is an object
    # with a non-empty string uid.
    assert isinstance(request, dict) and isinstance(uid, str)
    return _answer(remembered, uid, request["operation"], _user(request), _target(request))


def _answer(remembered: _Remembered, uid: str, operation: str, user: str, target: str) -> Answer:
    return Answer(
        200,
        remembered.head + orjson.dumps(uid) + remembered.tail,
        uid,
        operation,
        remembered.verdict,
        remembered.reason,
        remembered.message,
        user,
        target,
    )


class _SentKey(NamedTuple):
    key: bytes
    uid: str
    start: int
    """Where the uid's characters start in the body; they end where the next '"' is."""


_UID_MEMBER = re.compile(rb'"uid"[ \t\n\r]*:[ \t\n\r]*"([A-Za-z0-9-]{1,128})"')
"""A uid as the API server writes it (a UUID): characters that never need escaping in JSON."""


def _sent_key(body: bytes, hook: str, persist_images: bool) -> _SentKey | None:
    """The body but for the characters of its first uid-like member, with where they were.

    Two bodies with the same key differ at most in those characters, at the same place. Whether the
    place lexes as one JSON string depends only on the bytes before it, which are the same, and the
    characters never need escaping: so the bodies decode to the same value but for one string.
    `_uid_is_at` checks, once, that this string is `request.uid`; the other body then differs from
    the checked one in its uid only, and its answer is the checked one's with its own uid.
    """
    found = _UID_MEMBER.search(body)
    if found is None:
        return None
    start, end = found.span(1)
    prefix = b"%s %d %d %d " % (hook.encode(), persist_images, start, len(body) - end)
    return _SentKey(prefix + body[:start] + body[end:], found.group(1).decode(), start)


def _uid_is_at(sent: _SentKey, body: bytes, uid: str) -> bool:
    """Whether the characters `sent` leaves out are those of `request.uid` (the value the decoder
    keeps): changed to a probe, the decoded uid must be the probe."""
    if sent.uid != uid:
        return False
    probe = "0" if uid != "0" else "1"
    end = sent.start + len(uid)
    try:
        decoded = orjson.loads(body[: sent.start] + probe.encode() + body[end:])
    except orjson.JSONDecodeError:
        return False
    request = decoded.get("request") if isinstance(decoded, dict) else None
    return isinstance(request, dict) and request.get("uid") == probe


_REVIEWED_FIELDS = ("kind", "operation", "name", "namespace", "subResource", "object", "oldObject")
"""The fields of `request` that `reviews.parse` reads and the review depends on (not uid, dryRun
or userInfo)."""


def _remembered(review: reviews.AdmissionReview) -> _Remembered:
    """The review's encoding, minus the uid that opens its response (see `Answers`)."""
    response = review["response"]
    rest = {k: v for k, v in response.items() if k != "uid"}
    status = response.get("status")
    head = (
        orjson.dumps({"apiVersion": review["apiVersion"], "kind": review["kind"]})[:-1]
        + b',"response":{"uid":'
    )
    return _Remembered(
        head,
        b"," + orjson.dumps(rest)[1:] + b"}",  # `rest` is never empty: it holds `allowed`
        admission.verdict(review),
        status["reason"] if status is not None else "",
        status["message"] if status is not None else "",
    )


def _user(request: dict[str, Any]) -> str:
    user = request.get("userInfo")
    username = user.get("username") if isinstance(user, dict) else None
    return username[:256] if isinstance(username, str) else ""


def _target(request: dict[str, Any]) -> str:
    name, namespace = request.get("name"), request.get("namespace")
    name = name if isinstance(name, str) and name else "(unnamed)"
    return f"{namespace}/{name}"[:512] if isinstance(namespace, str) and namespace else name[:512]


def bad_request(message: str, status: int = 400) -> Answer:
    """An answer decided before the body was read: too large (400), or too late (408)."""
    error = reviews.BadRequest(message)
    encoded = orjson.dumps(reviews.bad_request_review(error))
    return Answer(status, encoded, "", "unknown", "bad_request", "BadRequest", message)
