"""Bad requests get HTTP 400 with an explanatory AdmissionReview; bad objects get a denial."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.settings import OperatorSettings
from tests.webhook import samples
from webhook import handling

SETTINGS = OperatorSettings()


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def _without(path: str) -> bytes:
    body = samples.review(samples.minimal())
    node = body
    *parents, last = path.split(".")
    for part in parents:
        node = node[part]
    del node[last]
    return _json(body)


def _with(path: str, value: Any) -> bytes:
    body = samples.review(samples.minimal())
    node = body
    *parents, last = path.split(".")
    for part in parents:
        node = node[part]
    node[last] = value
    return _json(body)


MALFORMED = [
    (b"", "application/json", "body is not valid JSON"),
    (b"{", "application/json", "body is not valid JSON"),
    (b"\xff\xfe", "application/json", "body is not valid JSON"),
    (b"[" * 5000 + b"]" * 5000, "application/json", "body is not valid JSON"),
    (b'{"a": NaN}', "application/json", "body is not valid JSON"),
    (_json(samples.review(samples.minimal())), "text/plain", "content type must be application/json"),
    (_json(samples.review(samples.minimal())), "", "content type must be application/json"),
    (b"[]", "application/json", "body must be a JSON object"),
    (b"null", "application/json", "body must be a JSON object"),
    (b'"review"', "application/json", "body must be a JSON object"),
    (_without("apiVersion"), "application/json", "apiVersion must be admission.k8s.io/v1"),
    (_with("apiVersion", "v1"), "application/json", "apiVersion must be admission.k8s.io/v1"),
    (_with("kind", "Pod"), "application/json", "kind must be AdmissionReview"),
    (_without("request"), "application/json", "request must be an object"),
    (_with("request", []), "application/json", "request must be an object"),
    (_without("request.uid"), "application/json", "request.uid must be a non-empty string"),
    (_with("request.uid", ""), "application/json", "request.uid must be a non-empty string"),
    (_with("request.uid", 7), "application/json", "request.uid must be a non-empty string"),
    (_without("request.kind"), "application/json", "request.kind must be an object with group, version"),
    (_with("request.kind", {"group": "apps", "version": "v1"}), "application/json", "request.kind must be"),
    (_with("request.kind", "ModelService"), "application/json", "request.kind must be an object"),
    (_without("request.operation"), "application/json", "request.operation must be one of"),
    (_with("request.operation", "PATCH"), "application/json", "request.operation must be one of"),
    (_without("request.object"), "application/json", "request.object must be an object for CREATE"),
    (_with("request.object", "x"), "application/json", "request.object must be an object for CREATE"),
    (
        _with("request.operation", "UPDATE"),
        "application/json",
        "request.oldObject must be an object for UPDATE",
    ),
]


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    MALFORMED,
    ids=[
        "empty body",
        "truncated JSON",
        "not UTF-8",
        "nested too deep",
        "NaN",
        "text/plain",
        "no content type",
        "array",
        "null",
        "string",
        "no apiVersion",
        "wrong apiVersion",
        "wrong kind",
        "no request",
        "request is an array",
        "no uid",
        "empty uid",
        "numeric uid",
        "no kind",
        "kind without a kind",
        "kind is a string",
        "no operation",
        "unknown operation",
        "no object",
        "object is a string",
        "update without oldObject",
    ],
)
@pytest.mark.parametrize("hook", ["mutate", "validate"])
def test_malformed_request_is_a_400_with_the_reason(
    body: bytes, content_type: str, message: str, hook: Any
) -> None:
    answer = handling.handle(body, content_type, hook, SETTINGS)
    assert (answer.status, answer.verdict, answer.reason) == (400, "bad_request", "BadRequest")
    review = json.loads(answer.body)
    assert review["kind"] == "AdmissionReview"
    response = review["response"]
    assert response["allowed"] is False
    assert (response["status"]["code"], response["status"]["reason"]) == (400, "BadRequest")
    assert response["status"]["message"].startswith(message)


def test_bad_request_echoes_the_uid_once_it_is_known() -> None:
    answer = handling.handle(_without("request.object"), "application/json", "validate", SETTINGS)
    assert json.loads(answer.body)["response"]["uid"] == "uid-1"


@pytest.mark.parametrize(
    "obj",
    [{}, {"spec": "x"}, {"metadata": [], "spec": {"model": 1}}, {"apiVersion": 5, "kind": None, "spec": {}}],
    ids=["empty object", "spec is a string", "wrong types everywhere", "wrong apiVersion and kind types"],
)
def test_invalid_object_in_a_valid_review_is_a_denial_not_a_bad_request(obj: dict[str, Any]) -> None:
    answer = handling.handle(_json(samples.review(obj)), "application/json", "validate", SETTINGS)
    assert (answer.status, answer.verdict, answer.reason) == (200, "denied", "Invalid")
    mutated = handling.handle(_json(samples.review(obj)), "application/json", "mutate", SETTINGS)
    assert mutated.status == 200


def test_a_content_type_with_charset_is_json() -> None:
    # aiohttp hands over the bare media type; the parameter never reaches the handler.
    answer = handling.handle(_json(samples.review(samples.minimal())), "application/json", "mutate", SETTINGS)
    assert (answer.status, answer.verdict, answer.operation) == (200, "patched", "CREATE")


@pytest.mark.parametrize("hook", ["mutate", "validate"])
def test_a_request_for_another_kind_is_a_denial_the_api_server_shows(hook: Any) -> None:
    # HTTP 200 with allowed=false: an HTTP error would be dropped under failurePolicy Ignore.
    body = samples.review(samples.minimal())
    body["request"]["kind"] = {"group": "apps", "version": "v1", "kind": "Deployment"}
    answer = handling.handle(_json(body), "application/json", hook, SETTINGS)
    assert (answer.status, answer.verdict, answer.reason) == (200, "denied", "BadRequest")
    assert answer.message.startswith("this webhook admits model.otterscale.io ModelService objects only")
