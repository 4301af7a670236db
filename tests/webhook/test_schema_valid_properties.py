"""Property tests: every ModelService the CRD schema admits gets a well-formed, bounded answer.

The API server checks the openAPIV3Schema before the validating webhook sees an object, so the
webhook's real input is schema-valid, however extreme. The strategy here is derived from the
generated CRD schema (`shared.crd`), not written by hand: required properties always, optional
ones sometimes, patterns through `from_regex`, lengths, enums, int32/int64 ranges, int-or-string
quantities, maps and lists. On top it mixes in what the schema admits but a hand-written sample
never holds: quantities such as `1e1000000`, 5000-digit numbers and `0.000000001m`, long digit
strings in env values (the NIXL side-channel port among them), and maps of hundreds of entries.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from datetime import UTC
from typing import Any

import jsonpatch
import jsonschema
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from shared import crd
from shared.settings import OperatorSettings
from tests.webhook import samples
from webhook import handling

Schema = dict[str, Any]

# Hypothesis warns before printing a failing example whose plain repr is long; these examples are
# long by design, and its pretty printer shows them compactly (`'9' * 6000`).
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")

SCHEMA = crd.open_api_schema()
SETTINGS = OperatorSettings(allowed_image_prefixes=("ghcr.io/", "harbor.local/"))
# Modest: each example makes three webhook calls on objects of up to a few hundred map entries,
# and the file runs in a few seconds. Derandomized with no example database, so every run checks
# the same inputs and a failure reproduces as it was seen. No shrinking: it would replay these large
# objects for a minute before reporting; a failure prints its input, and the smallest known cases
# are plain tests at the end of this file.
PROPERTY = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
MAX_BODY_BYTES = 64 * 1024
"""The webhook lists at most 50 causes of at most 512 characters each; an answer is never larger."""
MAX_SECONDS_PER_CALL = 1.0
"""A guard against hangs and quadratic blow-ups on large inputs, not a performance assertion: a
call takes milliseconds, and a slow shared machine must never make this flaky."""

_INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
# Long strings are built by a mapped lambda from a drawn length, so a failing example prints as
# `(lambda n: '9' * n)(5000)` rather than as five thousand nines.
long_digits = st.integers(4301, 6000).map(lambda n: "9" * n)  # past Python's 4,300-digit int() limit
extreme_quantities = st.one_of(
    st.sampled_from(
        [
            "1e1000000",
            "-1e1000000",
            "1e-1000000",
            "1e2147483647",
            "1e99999999999",  # an exponent beyond int32: the schema's pattern admits it, the parser not
            "0.000000001m",
            ".5",
            "0",
        ]
    ),
    long_digits,
    st.integers(4301, 6000).map(lambda n: "0." + "0" * n + "1"),
    st.integers(4301, 6000).map(lambda n: "9" * n + "Ei"),
)
digit_strings = st.one_of(
    st.sampled_from(["8000", "65536", "0", "+8000", "-1"]),
    long_digits,
    st.integers(4301, 6000).map(lambda n: "0" * n + "8000"),
    st.integers(4301, 6000).map(lambda n: "-" + "9" * n),
)
NIXL = "VLLM_NIXL_SIDE_CHANNEL_PORT"


# --- the strategy, derived from the schema -------------------------------------------------------


def _text(node: Schema) -> st.SearchStrategy[str]:
    low, high = node.get("minLength", 0), node.get("maxLength")
    if "pattern" in node:
        # from_regex knows nothing of the length bounds; the few strings outside them are dropped.
        found = st.from_regex(str(node["pattern"]), fullmatch=True)
        return found.filter(lambda s: len(s) >= low and (high is None or len(s) <= high))
    if node.get("format") == "date-time":
        return st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat())
    return st.text(min_size=low, max_size=min(high, 40) if high is not None else 40)


def _integers(node: Schema) -> st.SearchStrategy[int]:
    low, high = _INT_RANGES.get(node.get("format", ""), _INT_RANGES["int64"])
    return st.integers(node.get("minimum", low), node.get("maximum", high))


def _quantities(node: Schema) -> st.SearchStrategy[int | str]:
    """An int-or-string quantity: an int64, a string of the schema's pattern, or an extreme one."""
    pattern = node.get("pattern")
    strings = st.from_regex(str(pattern), fullmatch=True) if pattern else st.text(max_size=20)
    return st.one_of(_integers(node), strings, extreme_quantities)


def _object(node: Schema, path: str) -> st.SearchStrategy[dict[str, Any]]:
    props = node.get("properties")
    if props is not None:
        required = set(node.get("required", ()))
        at = f"{path}." if path else ""
        return st.fixed_dictionaries(
            {k: from_schema(v, at + k) for k, v in props.items() if k in required},
            optional={k: from_schema(v, at + k) for k, v in props.items() if k not in required},
        )
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        return st.dictionaries(st.text(max_size=30), from_schema(extra, f"{path}{{}}"), max_size=4)
    return st.just({})


def _list(node: Schema, path: str) -> st.SearchStrategy[list[Any]]:
    items = from_schema(node["items"], f"{path}[]")
    keys = node.get("x-kubernetes-list-map-keys") if node.get("x-kubernetes-list-type") == "map" else None
    size = node.get("maxItems", 4)
    if keys:  # a list of type map: the API server refuses two items with the same keys
        return st.lists(items, max_size=size, unique_by=lambda item: tuple(str(item.get(k)) for k in keys))
    return st.lists(items, max_size=size)


def from_schema(node: Schema, path: str = "") -> st.SearchStrategy[Any]:
    """Values `node` admits, with the extremes of `OVERRIDES` mixed in at their paths."""
    derived = _derived(node, path)
    extreme = OVERRIDES.get(path)
    return derived if extreme is None else st.one_of(derived, extreme(derived))


def _derived(node: Schema, path: str) -> st.SearchStrategy[Any]:
    if "enum" in node:
        return st.sampled_from(node["enum"])
    if node.get("x-kubernetes-int-or-string"):
        return _quantities(node)
    kind = node.get("type")
    if kind == "object":
        return _object(node, path)
    if kind == "array":
        return _list(node, path)
    if kind == "string":
        return _text(node)
    if kind == "integer":
        return _integers(node)
    if kind == "boolean":
        return st.booleans()
    raise AssertionError(f"{path}: no strategy for schema node {node}")


# --- the extremes the schema admits ----------------------------------------------------------------


def _large_map(keys: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, str]]:
    """Hundreds of entries: cheap to draw, since entries are built from one drawn key and value."""
    return st.tuples(st.integers(100, 600), keys, st.text(max_size=20)).map(
        lambda t: {f"{t[1]}{i}": t[2] for i in range(t[0])}
    )


def _maps(derived: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return _large_map(st.sampled_from(["node.example.com/k", "k", "bad key ", "Example.COM/"]))


def _env(derived: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    nixl = st.fixed_dictionaries({"name": st.just(NIXL), "value": digit_strings})
    long_value = st.fixed_dictionaries({"name": st.text(max_size=10), "value": digit_strings})
    return st.tuples(derived, st.lists(nixl | long_value, min_size=1, max_size=3)).map(lambda t: t[1] + t[0])


def _args(derived: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    extreme = st.sampled_from(["--max-model-len", "-tp", "--served_model", "--port", "/models"]) | long_digits
    return st.lists(extreme, max_size=6)


def _metadata() -> st.SearchStrategy[dict[str, Any]]:
    """Object metadata as the API server passes it on (the CRD declares it only as an object)."""
    subdomain = r"[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?){0,3}"
    return st.fixed_dictionaries(
        {"name": st.from_regex(subdomain, fullmatch=True), "namespace": st.just("llm")},
        optional={
            "annotations": _large_map(st.sampled_from(["example.com/a", "a"])) | st.just({}),
            "labels": st.dictionaries(st.sampled_from(["a", "b/c"]), st.just("v"), max_size=2),
        },
    )


OVERRIDES: dict[str, Callable[[st.SearchStrategy[Any]], st.SearchStrategy[Any]]] = {
    "spec.decode.nodeSelector": _maps,
    "spec.decode.annotations": _maps,
    "spec.prefill.nodeSelector": _maps,
    "spec.prefill.annotations": _maps,
    "spec.engine.env": _env,
    "spec.engine.args": _args,
}
TYPE_META = {"apiVersion": "model.otterscale.io/v1alpha1", "kind": "ModelService"}
model_services = st.tuples(from_schema(SCHEMA), _metadata()).map(
    lambda t: t[0] | TYPE_META | {"metadata": t[1]}
)


# --- the properties --------------------------------------------------------------------------------


def _answer(body: dict[str, Any], hook: Any) -> dict[str, Any]:
    """One call through the webhook's request handling, with the checks every answer must pass."""
    started = time.perf_counter()
    answer = handling.handle(json.dumps(body).encode(), "application/json", hook, SETTINGS)
    elapsed = time.perf_counter() - started
    assert elapsed < MAX_SECONDS_PER_CALL, f"{hook} took {elapsed:.2f} s"
    assert answer.status == 200
    assert len(answer.body) <= MAX_BODY_BYTES, f"{hook} answered {len(answer.body)} bytes"
    review = json.loads(answer.body)
    assert review["kind"] == "AdmissionReview"
    response: dict[str, Any] = review["response"]
    assert response["uid"] == body["request"]["uid"]
    assert isinstance(response["allowed"], bool)
    if not response["allowed"]:
        assert response["status"]["code"] in (403, 422)
        assert response["status"]["message"]
    return response


def _mutated(obj: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    if "patch" not in response:
        return obj
    assert response["patchType"] == "JSONPatch"
    patched: dict[str, Any] = jsonpatch.apply_patch(obj, json.loads(base64.b64decode(response["patch"])))
    return patched


@PROPERTY
@given(obj=model_services, uid=st.uuids().map(str))
def test_a_schema_valid_create_gets_a_well_formed_bounded_answer(obj: dict[str, Any], uid: str) -> None:
    patched = _mutated(obj, _answer(samples.review(obj, "CREATE", uid=uid), "mutate"))
    _answer(samples.review(obj, "CREATE", uid=uid), "validate")
    _answer(samples.review(patched, "CREATE", uid=uid), "validate")


@PROPERTY
@given(
    obj=model_services,
    old=model_services,
    shared_history=st.booleans(),
    uid=st.uuids().map(str),
)
def test_a_schema_valid_update_gets_a_well_formed_bounded_answer(
    obj: dict[str, Any], old: dict[str, Any], shared_history: bool, uid: str
) -> None:
    if shared_history:
        # The stored object is the new one before a small edit, as for most real UPDATEs: the two
        # then share everything the edit did not touch, errors included.
        old = samples.with_changes(obj, "spec.decode.replicas", 7)
    old = old | {"metadata": obj["metadata"]}  # an UPDATE never renames
    patched = _mutated(obj, _answer(samples.review(obj, "UPDATE", old, uid=uid), "mutate"))
    _answer(samples.review(obj, "UPDATE", old, uid=uid), "validate")
    _answer(samples.review(patched, "UPDATE", old, uid=uid), "validate")


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(obj=model_services)
def test_the_strategy_generates_schema_valid_objects(obj: dict[str, Any]) -> None:
    jsonschema.validate(obj, SCHEMA)


def _schema_paths(node: Schema, path: str = "") -> set[str]:
    found = {path}
    for key, sub in (node.get("properties") or {}).items():
        found |= _schema_paths(sub, f"{path}.{key}" if path else key)
    return found


def test_every_extreme_is_mixed_in_at_a_path_the_schema_has() -> None:
    assert set(OVERRIDES) - _schema_paths(SCHEMA) == set()


def test_an_update_keeping_hundreds_of_stored_errors_answers_within_the_bound() -> None:
    """The smallest case of what the UPDATE property found, in an object and a stored copy that
    differ only in the replica count and share hundreds of invalid node selector values.

    An object stored before a rule existed holds 300 node selector values that the rule rejects,
    and an UPDATE changes something else. Validation ratchets, so each error the stored object has
    too becomes a warning; unless warnings are bounded the way denial causes are, the answer is
    about 73 KB here and grows with the object (a 3 MiB object would yield megabytes).
    """
    obj = samples.with_changes(
        samples.minimal(), "spec.decode.nodeSelector", {f"k{i}": "-" for i in range(300)}
    )
    old = samples.with_changes(obj, "spec.decode.replicas", 2)
    response = _answer(samples.review(obj, "UPDATE", old), "validate")
    assert response["allowed"] is True
