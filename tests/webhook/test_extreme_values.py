"""Schema-valid extremes get a clear answer, never an exception: huge quantity exponents, long
digit strings where a port is read, on CREATE and when only the old object of an UPDATE has them.

The CRD admits any quantity matching the Kubernetes pattern and any env value string, so these
reach the webhook; the answer must be an allowed or denied AdmissionReview with a field path.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.api import ModelService
from shared.builders import build_all
from shared.kube_types import parse_quantity, port_number
from shared.settings import OperatorSettings
from tests.webhook import samples
from webhook import admission

SETTINGS = OperatorSettings()
LONG_DIGITS = "9" * 5000  # over Python's 4,300-digit limit for int()

EXTREMES: dict[str, tuple[str, Any]] = {
    "cpu-huge-exponent": ("spec.decode.resources", {"requests": {"cpu": "1e1000000"}}),
    "memory-exponent-beyond-int32": ("spec.decode.resources", {"limits": {"memory": "1e99999999999"}}),
    "cpu-long-digits": ("spec.decode.resources", {"requests": {"cpu": LONG_DIGITS}}),
    "request-above-huge-limit": (
        "spec.decode.resources",
        {"requests": {"cpu": "1e1000000"}, "limits": {"cpu": "1e999999"}},
    ),
    "nixl-port-long-digits": (
        "spec.engine.env",
        [{"name": "VLLM_NIXL_SIDE_CHANNEL_PORT", "value": LONG_DIGITS}],
    ),
}


def _extreme(case: str) -> dict[str, Any]:
    path, value = EXTREMES[case]
    return samples.with_changes(samples.minimal(), path, value)


def _well_formed(answer: Any) -> dict[str, Any]:
    response: dict[str, Any] = answer["response"]
    assert isinstance(response["allowed"], bool)
    if not response["allowed"]:
        status = response["status"]
        assert status["code"] in (403, 422)
        assert status["message"] and "Traceback" not in status["message"]
        assert len(status["message"]) < 2_000
    return response


@pytest.mark.parametrize("hook", ["mutate", "validate"])
@pytest.mark.parametrize("case", sorted(EXTREMES))
def test_an_extreme_value_on_create_gets_a_clear_answer(case: str, hook: admission.Hook) -> None:
    _well_formed(admission.review(samples.review(_extreme(case)), SETTINGS, hook))


@pytest.mark.parametrize("hook", ["mutate", "validate"])
@pytest.mark.parametrize("case", sorted(EXTREMES))
def test_an_extreme_value_only_in_the_old_object_of_an_update_gets_a_clear_answer(
    case: str, hook: admission.Hook
) -> None:
    body = samples.review(samples.minimal(), "UPDATE", old=_extreme(case))
    response = _well_formed(admission.review(body, SETTINGS, hook))
    assert response["allowed"] is True, "the new object is valid; the old one's values cannot deny it"


def test_an_exponent_beyond_the_api_servers_range_is_denied_with_its_path() -> None:
    answer = admission.review(samples.review(_extreme("memory-exponent-beyond-int32")), SETTINGS, "validate")
    response = _well_formed(answer)
    assert response["allowed"] is False
    assert "spec.decode.resources.limits[memory]: Invalid value" in response["status"]["message"]


def test_a_long_digit_string_never_names_a_port_and_the_builders_ignore_it() -> None:
    assert port_number(LONG_DIGITS) is None
    assert port_number("0" * 5000 + "8000") == 8000, "leading zeros are not significant"
    ms = ModelService.model_validate(
        _extreme("nixl-port-long-digits") | {"metadata": {"name": "m", "namespace": "ns"}}
    )
    decode = next(o for o in build_all(ms, SETTINGS).objects if o["metadata"]["name"] == "m-decode")
    ports = [
        p["containerPort"]
        for c in decode["spec"]["template"]["spec"]["containers"]
        for p in c.get("ports", [])
    ]
    assert all(isinstance(p, int) and p <= 65535 for p in ports)


def test_huge_quantities_compare_by_value() -> None:
    assert parse_quantity("1e1000000") > parse_quantity("1e999999") > parse_quantity("8Ei")
    assert parse_quantity("1e-1000000") < parse_quantity("1n")
    with pytest.raises(ValueError, match="out of range"):
        parse_quantity("1e2147483648")


def test_a_denial_of_thousands_of_errors_lists_fifty_and_counts_the_rest() -> None:
    selector = {f"bad key {i} " + "x" * 200: "v" for i in range(8_000)}
    obj = samples.with_changes(samples.minimal(), "spec.decode.nodeSelector", selector)
    answer = admission.review(samples.review(obj), SETTINGS, "validate")
    response = answer["response"]
    status = response["status"]
    assert response["allowed"] is False and status["code"] == 422
    assert len(status["details"]["causes"]) == admission.MAX_CAUSES
    assert status["message"].endswith(f"and {8_000 - admission.MAX_CAUSES} more]")
    assert all(len(c["field"]) <= admission.MAX_CAUSE_CHARS for c in status["details"]["causes"])
    assert len(json.dumps(answer)) < 100_000, "the answer stays small whatever the request held"
