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


def _without_prefill() -> dict[str, Any]:
    return _stored(samples.with_changes(samples.full_pd(), "spec.prefill", ...))


def _restart(label: str, parts: str) -> str:
    return f"the {label} pods restart: their pod template changes ({parts})"


def _recreate_epp(parts: str) -> str:
    return f"the EPP pods are recreated, all at once: their pod template changes ({parts})"


@pytest.mark.parametrize(
    ("old", "change", "warnings"),
    [
        (None, lambda s: s["decode"].update(replicas=5), None),
        (
            None,
            lambda s: s["engine"].update(args=["--max-model-len", "8192"]),
            [_restart("decode", "vllm args"), _restart("prefill", "vllm args")],
        ),
        (None, lambda s: s["decode"].update(annotations={"a": "b"}), [_restart("decode", "pod annotations")]),
        (
            None,
            lambda s: s["decode"].update(nodeSelector={"zone": "a"}, tolerations=[]),
            [_restart("decode", "nodeSelector, tolerations")],
        ),
        (
            None,
            lambda s: s.update(routingProxy={"zapLogLevel": "debug"}),
            [_restart("decode", "routing-proxy args")],
        ),
        (
            None,
            lambda s: s["engine"].update(image="ghcr.io/llm-d/vllm:v2", args=["--x"], env=[], port=8100),
            [
                _restart("decode", "routing-proxy args, routing-proxy ports, vllm image, 3 more"),
                _restart("prefill", "vllm image, vllm args, vllm env, vllm ports"),
            ],
        ),
        (
            None,
            lambda s: s["inferencePool"]["endpointPicker"].update(port=9100),
            [_recreate_epp("epp args, epp ports")],
        ),
        (
            None,
            lambda s: s["inferencePool"]["endpointPicker"].update(image="ghcr.io/llm-d/epp:v9"),
            [_recreate_epp("epp image")],
        ),
        (
            None,
            lambda s: s.pop("prefill"),
            [
                "the prefill pods are deleted: spec.prefill was removed",
                _recreate_epp("plugin configuration, epp args"),
            ],
        ),
        (
            _without_prefill(),
            lambda s: s.update(prefill={"replicas": 2}),
            [
                "the prefill pods are created: spec.prefill was added",
                _recreate_epp("plugin configuration, epp args"),
            ],
        ),
    ],
    ids=[
        "replicas only",
        "engine args",
        "decode pod annotations",
        "decode scheduling",
        "routing proxy log level",
        "more parts than one warning names",
        "EPP port",
        "EPP image",
        "prefill removed",
        "prefill added",
    ],
)
def test_update_warns_which_pods_are_created_deleted_or_restarted_and_why(
    old: dict[str, Any] | None, change: Any, warnings: list[str] | None
) -> None:
    old = old if old is not None else _stored(samples.full_pd())
    new = copy.deepcopy(old)
    change(new["spec"])
    response = admission.review(samples.review(_stored(new), "UPDATE", old), SETTINGS, "validate")["response"]
    assert response["allowed"] is True
    assert response.get("warnings") == warnings


@pytest.mark.parametrize(
    ("kind", "operation"),
    [
        ({"group": "apps", "version": "v1", "kind": "Deployment"}, "CREATE"),
        ({"group": "", "version": "v1", "kind": "Pod"}, "DELETE"),
        ({"group": "model.otterscale.io", "version": "v1alpha1", "kind": "Artifact"}, "UPDATE"),
        ({"group": "example.com", "version": "v1alpha1", "kind": "ModelService"}, "CREATE"),
    ],
    ids=[
        "another group",
        "a core kind, even on DELETE",
        "another kind of ours",
        "a ModelService of another group",
    ],
)
@pytest.mark.parametrize("hook", ["mutate", "validate"])
def test_a_request_for_another_kind_is_denied_as_a_bad_request(
    kind: dict[str, str], operation: str, hook: admission.Hook
) -> None:
    obj = samples.minimal()
    body = samples.review(
        obj if operation != "DELETE" else None, operation, obj if operation != "CREATE" else None
    )
    body["request"]["kind"] = kind
    group_version = f"{kind['group']}/{kind['version']}" if kind["group"] else kind["version"]
    assert admission.review(body, SETTINGS, hook)["response"] == {
        "uid": "uid-1",
        "allowed": False,
        "status": {
            "status": "Failure",
            "code": 400,
            "reason": "BadRequest",
            "message": "this webhook admits model.otterscale.io ModelService objects only, got "
            f"{group_version} {kind['kind']}; the webhook configuration's rules select resources it does "
            "not handle",
        },
    }


@pytest.mark.parametrize("version", ["v1alpha1", "v1beta1", "v1"])
def test_any_version_of_a_model_service_is_admitted(version: str) -> None:
    body = samples.review(_stored(samples.minimal()))
    body["request"]["kind"]["version"] = version
    assert admission.review(body, SETTINGS, "validate")["response"] == {"uid": "uid-1", "allowed": True}


def test_mutate_rewrites_float_quantities_and_the_result_is_admitted() -> None:
    resources = {"limits": {"cpu": 1.5, "memory": "8Gi"}, "requests": {"cpu": 0.5, "memory": 4}}
    obj = samples.with_changes(samples.minimal(), "spec.decode.resources", resources)
    ops = _patch(admission.review(samples.review(obj), SETTINGS, "mutate"))
    assert [o for o in ops if "/resources/" in o["path"]] == [
        {"op": "replace", "path": "/spec/decode/resources/limits/cpu", "value": "1.5"},
        {"op": "replace", "path": "/spec/decode/resources/requests/cpu", "value": "0.5"},
    ]
    mutated = jsonpatch.apply_patch(obj, ops)
    assert mutated["spec"]["decode"]["resources"] == {
        "limits": {"cpu": "1.5", "memory": "8Gi"},
        "requests": {"cpu": "0.5", "memory": 4},
    }
    response = admission.review(samples.review(mutated), SETTINGS, "validate")["response"]
    assert response == {"uid": "uid-1", "allowed": True}


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
