"""Validation's fast path gives the answer of the long way, or none.

A sound object is settled by one parse of its spec that forbids unknown fields, the spec's rules
(which `judge_spec` runs on the spec alone, and the webhook remembers by spec), the envelope parsed
around it and the derived names; anything else goes through the unknown-field walk, the lenient
parse and every rule on the whole object. These tests hold the two together on schema-valid objects
(mostly sound) and on randomly damaged ones (mostly not), and show that the fast path really is
taken where it should be: with the API server's own metadata fields present.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared import namecheck, names, validation
from shared.api import ModelService
from shared.settings import OperatorSettings
from tests.webhook import samples
from tests.webhook.test_properties import _mutated, mutations
from tests.webhook.test_schema_valid_properties import model_services

SETTINGS = OperatorSettings(allowed_image_prefixes=("ghcr.io/", "harbor.local/"))
SAME = settings(max_examples=200, deadline=None, derandomize=True, database=None)
SERVER_METADATA = {
    "uid": "0d8f3a6e-7c2b-4b1a-9e55-1f2a3b4c5d6e",
    "resourceVersion": "12345",
    "generation": 3,
    "creationTimestamp": "2026-01-01T00:00:00Z",
    "managedFields": [
        {
            "manager": "kubectl",
            "operation": "Apply",
            "apiVersion": "model.otterscale.io/v1alpha1",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": {"f:model": {}}},
        }
    ],
}


def _both_ways(obj: dict[str, Any]) -> None:
    fast = validation.structure(obj)
    slow = validation.slow_structure(obj)
    assert fast[0] == slow[0]
    assert sorted(fast[1]) == sorted(slow[1])
    assert fast[2] == slow[2]
    model, errors, warnings = validation.long_way(obj, SETTINGS)
    report = validation.validate(obj, SETTINGS)
    assert report == validation.Report(tuple(sorted(dict.fromkeys(errors))), tuple(warnings), model)
    remembered: dict[bytes, validation.SpecVerdict] = {}

    def judge(spec: Any) -> validation.JudgedSpec | None:
        key = json.dumps(spec, sort_keys=True).encode()
        if key in remembered:
            return validation.JudgedSpec(remembered[key], None)
        judged = validation.judge_spec(spec, SETTINGS)
        if judged is not None:
            remembered[key] = judged.verdict
        return judged

    assert validation.validate(obj, SETTINGS, judge=judge) == report
    again = validation.validate(obj, SETTINGS, judge=judge)
    assert (again.errors, again.warnings, again.parsed) == (report.errors, report.warnings, report.parsed)
    assert again.remembered == (report.parsed and not remembered_nothing(obj))
    if again.remembered:
        assert again.model is None, "a stand-in spec never leaves validation"


def remembered_nothing(obj: dict[str, Any]) -> bool:
    """Whether validation takes the long way for `obj` (nothing of it is remembered then)."""
    return validation.sound_model(obj) is None


@SAME
@given(obj=model_services)
def test_schema_valid_objects_get_the_same_structure_either_way(obj: dict[str, Any]) -> None:
    _both_ways(obj)


@SAME
@given(changes=mutations, base=st.sampled_from([samples.minimal(), samples.full_pd()]))
def test_damaged_objects_get_the_same_structure_either_way(changes: list[tuple[str, Any]], base: Any) -> None:
    _both_ways(_mutated(base, changes))


@pytest.mark.parametrize("sample", [samples.minimal(), samples.full_pd()], ids=["minimal", "full-pd"])
def test_a_sound_object_with_server_metadata_takes_the_fast_path(sample: dict[str, Any]) -> None:
    obj = copy.deepcopy(sample)
    obj["metadata"] |= SERVER_METADATA
    obj["status"] = {"observedGeneration": 2, "phase": "Running", "someFutureField": 1}
    model = validation.sound_model(obj)
    assert model is not None
    assert model == validation.slow_structure(obj)[0]
    assert model.metadata.generation == 3


@pytest.mark.parametrize(
    ("path", "value", "reported"),
    [
        ("spec.engine.prot", 1, "spec.engine.prot"),
        ("spec.model.mount_path", "/models", "spec.model.mount_path"),  # a field's Python name
        (
            "spec.decode.tolerations",
            [{"key": "k", "operator": "Exists", "bogus": 1}],
            "spec.decode.tolerations[0].bogus",
        ),
        ("spec.httpRoute", {"gatewayRef": {"name": "g", "extra": 1}}, "spec.httpRoute.gatewayRef.extra"),
    ],
)
def test_an_unknown_field_leaves_the_fast_path_and_is_reported(path: str, value: Any, reported: str) -> None:
    obj = samples.with_changes(samples.full_pd(), path, value)
    assert validation.sound_model(obj) is None
    model, errors, _ = validation.structure(obj)
    assert model is not None, "an unknown field alone does not stop the rules from running"
    assert [e.path for e in errors] == [reported]
    assert errors[0].reason == validation.NOT_SUPPORTED


def test_an_unknown_top_level_field_leaves_the_fast_path() -> None:
    obj = samples.full_pd() | {"extra": 1}
    assert validation.sound_model(obj) is None
    assert [e.path for e in validation.structure(obj)[1]] == ["extra"]


# --- the derived names' shortcut -----------------------------------------------------------------

_NAME_CHARS = "abz09-.X_"
_names = st.one_of(
    st.from_regex(r"[a-z][-a-z0-9]{0,60}[a-z0-9]", fullmatch=True),
    st.text(_NAME_CHARS, max_size=12),
    st.builds(lambda n, c: c * n, st.integers(40, 70), st.sampled_from(["a", "9", "-", "X"])),
    st.builds(lambda a, n: a + "b" * n, st.text(_NAME_CHARS, max_size=4), st.integers(45, 65)),
)


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(
    name=_names,
    namespace=_names,
    recorded=st.none() | _names,
    prefill=st.booleans(),
)
def test_the_derived_names_shortcut_never_hides_a_problem(
    name: str, namespace: str, recorded: str | None, prefill: bool
) -> None:
    obj = samples.full_pd() if prefill else samples.minimal()
    obj["metadata"] = {"name": name, "namespace": namespace}
    if recorded is not None:
        obj["metadata"]["annotations"] = {names.DNS1035_NAME_ANNOTATION: recorded}
    ms = ModelService.model_validate(obj)
    assert namecheck.check_names(ms) == namecheck.all_problems(ms)


@pytest.mark.parametrize(
    ("name", "namespace", "plain"),
    [
        ("llama-3-70b", "team-a", True),
        ("a" * 59, "team-a", True),
        ("a" * 60, "team-a", False),  # the EPP name, "aaa…-epp", is 64 characters
        ("llama", "", False),
        ("Llama", "team-a", False),
    ],
)
def test_the_shortcut_settles_plain_names_only(name: str, namespace: str, plain: bool) -> None:
    ms = ModelService.model_validate(samples.minimal() | {"metadata": {"name": name, "namespace": namespace}})
    assert namecheck._plainly_valid(ms) is plain
