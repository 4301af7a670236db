"""The pure admission functions: AdmissionReview in, AdmissionReview out."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import jsonpatch
import pytest

from shared import defaulting, names
from shared.settings import OperatorSettings
from tests.webhook import samples
from webhook import admission, reviews

SETTINGS = OperatorSettings()


def _patch(answer: reviews.AdmissionReview) -> list[dict[str, Any]]:
    encoded = answer["response"].get("patch")
    return json.loads(base64.b64decode(encoded)) if encoded else []


def _stored(obj: dict[str, Any]) -> dict[str, Any]:
    return defaulting.defaulted(obj, SETTINGS)


@pytest.mark.parametrize("hook", ["mutate", "validate"])
@pytest.mark.parametrize("api_version", ["admission.k8s.io/v1", "admission.k8s.io/v1beta1"])
def test_answer_echoes_uid_and_api_version(hook: admission.Hook, api_version: str) -> None:
    body = samples.review(samples.minimal(), uid="abc-123")
    body["apiVersion"] = api_version
    answer = admission.review(body, SETTINGS, hook)
    assert (answer["apiVersion"], answer["kind"], answer["response"]["uid"]) == (
        api_version,
        "AdmissionReview",
        "abc-123",
    )


def test_mutate_answers_a_json_patch_that_yields_the_defaulted_object() -> None:
    obj = samples.full_pd()
    answer = admission.review(samples.review(obj), SETTINGS, "mutate")
    assert answer["response"]["allowed"] is True
    assert answer["response"]["patchType"] == "JSONPatch"
    assert jsonpatch.apply_patch(obj, _patch(answer)) == _stored(obj)


@pytest.mark.parametrize("operation", ["CREATE", "UPDATE"])
def test_mutating_the_mutated_object_sends_no_patch(operation: str) -> None:
    stored = _stored(samples.full_pd())
    old = stored if operation == "UPDATE" else None
    answer = admission.review(samples.review(stored, operation, old), SETTINGS, "mutate")
    assert answer["response"] == {"uid": "uid-1", "allowed": True}


def test_mutate_on_update_restores_a_removed_name_record_from_the_old_object() -> None:
    old = _stored(samples.minimal())
    old["metadata"]["annotations"][names.DNS1035_NAME_ANNOTATION] = "recorded-long-ago"
    new = copy.deepcopy(old)
    del new["metadata"]["annotations"]
    answer = admission.review(samples.review(new, "UPDATE", old), SETTINGS, "mutate")
    assert _patch(answer) == [
        {
            "op": "add",
            "path": "/metadata/annotations",
            "value": {names.DNS1035_NAME_ANNOTATION: "recorded-long-ago"},
        }
    ]


def test_dry_run_gets_the_same_verdict_and_patch() -> None:
    obj = samples.full_pd()
    for hook in ("mutate", "validate"):
        wet = admission.review(samples.review(obj), SETTINGS, hook)
        dry = admission.review(samples.review(obj, dryRun=True), SETTINGS, hook)
        assert dry == wet


@pytest.mark.parametrize(
    "body",
    [
        samples.review(None, "DELETE", old=samples.minimal()),
        samples.review(None, "CONNECT"),
        samples.review(
            {"status": {"phase": "Ready"}, "spec": "garbage"}, "UPDATE", old={}, subResource="status"
        ),
    ],
    ids=["delete", "connect", "status subresource"],
)
@pytest.mark.parametrize("hook", ["mutate", "validate"])
def test_delete_connect_and_status_pass_untouched(body: dict[str, Any], hook: admission.Hook) -> None:
    assert admission.review(body, SETTINGS, hook)["response"] == {"uid": "uid-1", "allowed": True}


def test_validate_allows_a_valid_object_without_status() -> None:
    answer = admission.review(samples.review(_stored(samples.full_pd())), SETTINGS, "validate")
    assert answer["response"] == {"uid": "uid-1", "allowed": True}


def test_validate_denies_with_every_error_sorted_in_message_and_causes() -> None:
    obj = _stored(samples.full_pd())
    obj["spec"]["engine"]["port"] = 0
    obj["spec"]["engine"]["args"] = ["--port", "1"]
    obj["spec"]["decode"]["replicas"] = -1
    response = admission.review(samples.review(obj), SETTINGS, "validate")["response"]
    assert response["allowed"] is False
    status = response["status"]
    assert (status["code"], status["reason"], status["status"]) == (422, "Invalid", "Failure")
    causes = status["details"]["causes"]
    assert [c["field"] for c in causes] == ["spec.decode.replicas", "spec.engine.args[0]", "spec.engine.port"]
    assert status["message"].startswith('ModelService "qwen3-0.6b" is invalid: [spec.decode.replicas: ')
    assert all(f"{c['field']}: {c['message']}" in status["message"] for c in causes)
    assert {c["reason"] for c in causes} == {"FieldValueInvalid", "FieldValueForbidden"}


def test_image_policy_alone_answers_403_forbidden() -> None:
    settings = OperatorSettings(allowed_image_prefixes=("ghcr.io/llm-d/",))
    obj = _stored(
        samples.with_changes(samples.full_pd(), "spec.inferencePool.endpointPicker.image", "evil.io/epp:1")
    )
    status = admission.review(samples.review(obj), settings, "validate")["response"]["status"]
    assert (status["code"], status["reason"]) == (403, "Forbidden")
    assert status["message"] == (
        'ModelService "qwen3-0.6b" is forbidden: spec.inferencePool.endpointPicker.image: Forbidden: image '
        "'evil.io/epp:1' is not allowed by the image policy; allowed prefixes: ghcr.io/llm-d/"
    )


def test_image_policy_with_other_errors_answers_422_listing_all() -> None:
    settings = OperatorSettings(allowed_image_prefixes=("ghcr.io/llm-d/",))
    obj = _stored(samples.with_changes(samples.full_pd(), "spec.engine.image", "evil.io/vllm:1"))
    obj["spec"]["decode"]["replicas"] = -1
    status = admission.review(samples.review(obj), settings, "validate")["response"]["status"]
    assert (status["code"], status["reason"]) == (422, "Invalid")
    assert [c["field"] for c in status["details"]["causes"]] == ["spec.decode.replicas", "spec.engine.image"]


def test_validate_uses_the_request_namespace_when_the_object_has_none() -> None:
    obj = _stored(samples.minimal())
    del obj["metadata"]["namespace"]
    body = samples.review(obj)
    body["request"]["namespace"] = "n" * 250
    causes = admission.review(body, SETTINGS, "validate")["response"]["status"]["details"]["causes"]
    assert any("EPP ClusterRole" in c["message"] for c in causes)


@pytest.mark.parametrize(
    ("change", "restarting"),
    [
        (lambda s: s["decode"].update(replicas=5), None),
        (lambda s: s["engine"].update(args=["--max-model-len", "8192"]), "decode, prefill"),
        (lambda s: s["decode"].update(annotations={"a": "b"}), "decode"),
        (lambda s: s["inferencePool"]["endpointPicker"].update(port=9100), "EPP"),
        (lambda s: s["inferencePool"]["endpointPicker"].update(image="ghcr.io/llm-d/epp:v9"), "EPP"),
    ],
    ids=["replicas only", "engine args", "decode pod annotations", "EPP port", "EPP image"],
)
def test_update_warns_which_pods_restart(change: Any, restarting: str | None) -> None:
    old = _stored(samples.full_pd())
    new = copy.deepcopy(old)
    change(new["spec"])
    response = admission.review(samples.review(new, "UPDATE", old), SETTINGS, "validate")["response"]
    assert response["allowed"] is True
    expected = (
        [f"this change restarts the {restarting} pods (their pod template changes)"] if restarting else None
    )
    assert response.get("warnings") == expected


def test_update_changing_the_recorded_name_is_denied() -> None:
    old = _stored(samples.minimal())
    new = copy.deepcopy(old)
    new["metadata"]["annotations"][names.DNS1035_NAME_ANNOTATION] = "renamed"
    status = admission.review(samples.review(new, "UPDATE", old), SETTINGS, "validate")["response"]["status"]
    assert status["details"]["causes"][0]["field"] == f"metadata.annotations[{names.DNS1035_NAME_ANNOTATION}]"


def test_gpu_warning_reaches_the_response() -> None:
    obj = _stored(
        samples.with_changes(samples.minimal(), "spec.decode.resources", {"limits": {"nvidia.com/gpu": 2}})
    )
    response = admission.review(samples.review(obj), SETTINGS, "validate")["response"]
    assert response["allowed"] is True
    assert response["warnings"] == [
        "spec.decode.resources.limits[nvidia.com/gpu]: set by hand; "
        "the operator replaces it with 1 (tensor x dataLocal)"
    ]


@pytest.mark.parametrize(
    ("answer", "verdict"),
    [
        ({"uid": "u", "allowed": True}, "allowed"),
        ({"uid": "u", "allowed": True, "patch": "x"}, "patched"),
        ({"uid": "u", "allowed": True, "warnings": ["w"]}, "warned"),
        ({"uid": "u", "allowed": False}, "denied"),
    ],
    ids=["allowed", "patched", "warned", "denied"],
)
def test_verdict_labels(answer: reviews.Response, verdict: str) -> None:
    assert admission.verdict({"apiVersion": "v", "kind": "AdmissionReview", "response": answer}) == verdict
