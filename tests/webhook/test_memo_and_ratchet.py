"""Remembered answers equal fresh ones; UPDATEs ratchet instead of re-judging what was admitted."""

from __future__ import annotations

import copy
import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared import defaulting
from shared.settings import OperatorSettings
from tests.webhook import samples
from webhook import admission, handling
from webhook.memo import MAX_CONTENT_BYTES, Memo

SETTINGS = OperatorSettings(allowed_image_prefixes=("harbor.local/", "docker.io/", "ghcr.io/"))


def _stored(obj: dict[str, Any]) -> dict[str, Any]:
    return defaulting.defaulted(obj, SETTINGS)


def _mutate(
    obj: dict[str, Any], old: dict[str, Any] | None = None, memos: admission.Memos | None = None
) -> Any:
    body = samples.review(obj, "UPDATE" if old is not None else "CREATE", old)
    return admission.review(body, SETTINGS, "mutate", memos=memos)["response"]


def _validate(
    obj: dict[str, Any], old: dict[str, Any] | None = None, memos: admission.Memos | None = None
) -> Any:
    body = samples.review(obj, "UPDATE" if old is not None else "CREATE", old)
    return admission.review(body, SETTINGS, "validate", memos=memos)["response"]


# --- the memo -----------------------------------------------------------------------------------


def test_memo_keeps_at_most_size_entries_and_forgets_the_least_recent() -> None:
    memo: Memo[int] = Memo(2)
    calls: list[bytes] = []

    def value(content: bytes) -> int:
        def compute() -> int:
            calls.append(content)
            return len(calls)

        return memo.get_or_compute(content, compute)

    assert [value(b"a"), value(b"b"), value(b"a"), value(b"c"), value(b"a"), value(b"b")] == [
        1,
        2,
        1,
        3,
        1,
        4,
    ]
    assert calls == [b"a", b"b", b"c", b"b"] and len(memo) == 2
    assert (memo.hits, memo.misses) == (2, 4)


def test_memo_keys_hold_at_most_max_bytes_and_the_oldest_go_first() -> None:
    memo: Memo[int] = Memo(100, max_bytes=10)
    for key in (b"aaaa", b"bbbb", b"cc"):
        memo.get_or_compute(key, lambda: 1)
    assert (len(memo), memo.bytes) == (3, 10)
    memo.get_or_compute(b"aaaa", lambda: 2)  # now the most recent
    memo.get_or_compute(b"ddddd", lambda: 3)  # 15 bytes: "bbbb" and then "cc" must go
    assert (len(memo), memo.bytes) == (2, 9)
    assert memo.get_or_compute(b"aaaa", lambda: 4) == 1
    assert memo.get_or_compute(b"bbbb", lambda: 5) == 5
    assert memo.get_or_compute(b"x" * 11, lambda: 6) == 6
    assert memo.bytes <= 10, "content over the budget is answered, never kept"


def test_memo_never_remembers_large_content() -> None:
    memo: Memo[int] = Memo(8)
    big = b"x" * (MAX_CONTENT_BYTES + 1)
    assert [memo.get_or_compute(big, lambda: 1) for _ in range(3)] == [1, 1, 1]
    assert len(memo) == 0 and memo.misses == 3


UPDATES = [
    ("spec.engine.args", ["--max-num-seqs", "64"]),
    ("spec.decode.replicas", 5),
    ("spec.prefill", ...),
    ("spec.engine.port", 8200),  # collides with the routing proxy: a denial
    ("spec.decode.nodeSelector", {"bad key!": "v"}),
    ("spec.engine.image", "quay.io/not/allowed:1"),
    ("metadata.labels", {"team": "a"}),
]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(range(len(UPDATES))), min_size=1, max_size=6))
def test_answers_with_a_memo_equal_answers_without(sequence: list[int]) -> None:
    # A chain of updates, each old object the previous new one, answered twice over: once from
    # scratch, once with one memo for the whole chain.
    memos = admission.Memos()
    old = _stored(samples.full_pd())
    assert _validate(old, memos=memos) == _validate(old)
    for i in sequence:
        new = samples.with_changes(old, *UPDATES[i])
        for _ in range(2):  # the second time from the memo
            assert _validate(new, old, memos) == _validate(new, old)
            assert _mutate(new, old, memos) == _mutate(new, old)
        old = new


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sampled_from(range(len(UPDATES))), min_size=1, max_size=4), st.booleans())
def test_patches_with_a_memo_equal_patches_without(sequence: list[int], record_dropped: bool) -> None:
    # As the user writes them (no defaults yet), including an UPDATE whose new object lost the
    # recorded name: the old object's record decides the patch, so it is part of what is remembered.
    memos = admission.Memos()
    old = _stored(samples.full_pd())
    for i in sequence:
        new = samples.with_changes(samples.full_pd(), *UPDATES[i])
        if not record_dropped:
            new["metadata"]["annotations"] = dict(old["metadata"]["annotations"])
        for _ in range(2):
            assert _mutate(new, old, memos) == _mutate(new, old)
        assert _mutate(new, None, memos) == _mutate(new, None)


def test_a_remembered_answer_carries_the_new_uid() -> None:
    memos = admission.Memos()
    body = samples.review(_stored(samples.minimal()), uid="first")
    first = handling.handle(orjson.dumps(body), "application/json", "validate", SETTINGS, memos=memos)
    body["request"]["uid"] = "second"
    second = handling.handle(orjson.dumps(body), "application/json", "validate", SETTINGS, memos=memos)
    assert orjson.loads(first.body)["response"]["uid"] == "first"
    assert orjson.loads(second.body)["response"]["uid"] == "second"
    assert memos.specs.hits == 1


def test_a_spec_verdict_serves_other_names_and_the_old_object_of_an_update() -> None:
    memos = admission.Memos()
    first = _stored(samples.with_changes(samples.full_pd(), "spec.decode.nodeSelector", {"bad key!": "v"}))
    other = copy.deepcopy(first)
    other["metadata"]["name"] = "another-name"
    assert _validate(other, memos=memos) == _validate(other)
    assert (memos.specs.hits, memos.specs.misses) == (0, 1)
    assert _validate(first, memos=memos) == _validate(first)
    assert (memos.specs.hits, memos.specs.misses) == (1, 1)
    assert _validate(first)["allowed"] is False
    # The stored object comes back as the old object with new metadata; its spec is known, and its
    # error is ratcheted into a warning.
    stored = copy.deepcopy(first)
    stored["metadata"] |= {"resourceVersion": "42", "generation": 2}
    new = samples.with_changes(stored, "spec.decode.replicas", 3)
    assert _validate(new, stored, memos) == _validate(new, stored)
    assert (memos.specs.hits, memos.specs.misses) == (2, 2)


# --- ratcheting --------------------------------------------------------------------------------


def _admitted_under_older_rules() -> dict[str, Any]:
    """A stored object that today's rules reject (a node selector key Kubernetes refuses)."""
    return _stored(samples.with_changes(samples.minimal(), "spec.decode.nodeSelector", {"bad key!": "v"}))


def test_an_invalid_object_is_still_denied_on_create() -> None:
    response = _validate(_admitted_under_older_rules())
    assert response["allowed"] is False
    assert response["status"]["details"]["causes"][0]["field"] == "spec.decode.nodeSelector[bad key!]"


def test_a_metadata_only_update_of_an_object_admitted_under_older_rules_is_allowed() -> None:
    # Removing the reconciler's finalizer while the object is deleted must never be blocked.
    old = _admitted_under_older_rules()
    old["metadata"]["finalizers"] = ["model.otterscale.io/cleanup"]
    new = copy.deepcopy(old)
    new["metadata"]["finalizers"] = []
    new["metadata"]["deletionTimestamp"] = "2026-12-02T08:00:00Z"
    assert _validate(new, old) == {"uid": "uid-1", "allowed": True}


def test_an_error_the_stored_object_has_too_becomes_a_warning() -> None:
    old = _admitted_under_older_rules()
    new = samples.with_changes(old, "spec.decode.replicas", 3)
    response = _validate(new, old)
    assert response["allowed"] is True
    assert any(
        w.startswith("spec.decode.nodeSelector[bad key!]: Invalid value: 'bad key!'")
        and w.endswith("(the stored object has this too; fix it before changing it)")
        for w in response["warnings"]
    ), response["warnings"]


def test_a_new_error_in_an_update_is_denied_even_beside_a_ratcheted_one() -> None:
    old = _admitted_under_older_rules()
    new = samples.with_changes(old, "spec.engine.port", 70000)
    response = _validate(new, old)
    assert response["allowed"] is False
    assert [c["field"] for c in response["status"]["details"]["causes"]] == ["spec.engine.port"]


def test_changing_the_offending_value_to_another_bad_one_is_denied() -> None:
    old = _admitted_under_older_rules()
    new = samples.with_changes(old, "spec.decode.nodeSelector", {"worse key!": "v"})
    response = _validate(new, old)
    assert response["allowed"] is False
    assert [c["field"] for c in response["status"]["details"]["causes"]] == [
        "spec.decode.nodeSelector[worse key!]"
    ]


# --- remembered whole answers ------------------------------------------------------------------


def _handle(body: dict[str, Any], hook: admission.Hook, answers: handling.Answers | None) -> handling.Answer:
    return handling.handle(orjson.dumps(body), "application/json", hook, SETTINGS, answers=answers)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(range(len(UPDATES))), st.sampled_from(["mutate", "validate"]), st.booleans()
        ),
        min_size=1,
        max_size=6,
    )
)
def test_remembered_whole_answers_equal_fresh_ones_byte_for_byte(steps: list[tuple[int, str, bool]]) -> None:
    # Every request is sent four times with a new uid, by two users in turn: the second answer
    # comes from memory, the fourth from the memory of bodies as sent (the same bytes as the
    # second's but for the uid).
    answers = handling.Answers()
    old = _stored(samples.full_pd())
    for n, (i, hook, dry_run) in enumerate(steps):
        new = samples.with_changes(old, *UPDATES[i])
        for attempt in range(4):
            uid, user = f"uid-{n}-{attempt}", {"username": f"user-{attempt % 2}"}
            body = samples.review(new, "UPDATE", old, uid=uid, dryRun=dry_run, userInfo=user)
            fresh = _handle(body, hook, None)  # type: ignore[arg-type]
            assert _handle(body, hook, answers) == fresh  # type: ignore[arg-type]
            assert fresh.uid == uid and fresh.user == f"user-{attempt % 2}"
            # The encoding spliced around the uid is the review's plain encoding.
            assert fresh.body == orjson.dumps(admission.review(body, SETTINGS, hook))  # type: ignore[arg-type]
        old = new
    # Attempts 1-3 of a step repeat attempt 0's review; attempt 3 repeats attempt 1's bytes.
    assert answers.memo.hits + answers.sent.hits >= 3 * len(steps)
    assert answers.sent.hits >= len(steps)


def test_a_remembered_answer_is_not_given_to_a_different_operation_or_namespace() -> None:
    answers = handling.Answers()
    obj = _stored(samples.minimal())
    create = _handle(samples.review(obj), "validate", answers)
    other_namespace = samples.review(obj)
    other_namespace["request"]["namespace"] = "elsewhere"
    moved = _handle(other_namespace, "validate", answers)
    delete = _handle(samples.review(obj, "DELETE"), "validate", answers)
    assert (create.operation, delete.operation) == ("CREATE", "DELETE")
    assert (create.target, moved.target) == ("llm/qwen3-0.6b", "elsewhere/qwen3-0.6b")
    assert answers.memo.hits == 0 and len(answers.memo) == 3


def test_bad_requests_and_large_bodies_are_not_remembered() -> None:
    answers = handling.Answers()
    broken = samples.review(_stored(samples.minimal()), "UPDATE")  # an UPDATE without its old object
    assert [_handle(broken, "validate", answers).status for _ in range(2)] == [400, 400]
    large = samples.with_changes(
        _stored(samples.minimal()), "metadata.annotations", {"note": "x" * (MAX_CONTENT_BYTES + 1)}
    )
    assert _handle(samples.review(large), "validate", answers).status == 200
    assert len(answers.memo) == 0 and answers.memo.misses == 2  # the large body never asked it


# --- answers by the body as sent ---------------------------------------------------------------


def _request_first(obj: dict[str, Any], uid: str, first: dict[str, Any]) -> bytes:
    """An AdmissionReview whose request members come in an order of our choosing."""
    request = {**first, **samples.review(obj, uid=uid)["request"]}
    return orjson.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request})


def _sent_again(body: bytes, hook: admission.Hook = "validate") -> handling.Answers:
    """Send `body` twice, then with other characters where its first uid-like member's are: every
    answer must be the one a webhook without any memory gives."""
    answers = handling.Answers()

    def both(sent: bytes) -> None:
        remembered = handling.handle(sent, "application/json", hook, SETTINGS, answers=answers)
        assert remembered == handling.handle(sent, "application/json", hook, SETTINGS)

    both(body)
    both(body)
    found = handling._UID_MEMBER.search(body)
    assert found is not None
    for other in ("ffff", "0", "1", "a-b-c", "X" * 128):
        both(body[: found.start(1)] + other.encode() + body[found.end(1) :])
    return answers


@pytest.mark.parametrize("hook", ["mutate", "validate"])
def test_a_body_sent_again_under_a_new_uid_is_answered_from_its_bytes(hook: admission.Hook) -> None:
    answers = _sent_again(orjson.dumps(samples.review(samples.full_pd(), uid="first")), hook)
    assert (answers.sent.hits, len(answers.sent)) == (5, 1)
    # Python's json writes a space after each colon; the API server's encoder does not. Both count.
    spaced = json.dumps(samples.review(samples.full_pd(), uid="first")).encode()
    assert _sent_again(spaced, hook).sent.hits == 5


@pytest.mark.parametrize(
    "body",
    [
        # The object, and with it a metadata.uid equal to the request's, comes first.
        _request_first(
            samples.full_pd() | {"metadata": {"name": "m", "namespace": "llm", "uid": "abc"}},
            "abc",
            {"object": None},
        ),
        # Two uid members: the decoder keeps the last one, the search finds the first.
        orjson.dumps(samples.review(samples.full_pd(), uid="kept")).replace(
            b'"request":{"uid":"kept"', b'"request":{"uid":"dropped","uid":"kept"'
        ),
        # An annotation key ending in an escaped quote and "uid" reads like a uid member.
        _request_first(
            samples.with_changes(samples.full_pd(), "metadata.annotations", {'a"uid': "looks-like-one"}),
            "real",
            {"object": None},
        ),
    ],
    ids=["object-first", "duplicate-uid", "escaped-quote"],
)
def test_a_uid_like_member_that_is_not_the_request_uid_is_never_a_key(body: bytes) -> None:
    assert len(_sent_again(body).sent) == 0
