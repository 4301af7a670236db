"""Property tests: whatever arrives, the answer is a well-formed AdmissionReview or a 400."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import jsonpatch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.settings import OperatorSettings
from tests.webhook import samples
from webhook import handling

SETTINGS = OperatorSettings(allowed_image_prefixes=("ghcr.io/",))
PROPERTY = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
PATHS = [
    "metadata.name",
    "metadata.namespace",
    "metadata.annotations",
    "metadata",
    "spec",
    "spec.model",
    "spec.model.name",
    "spec.model.image",
    "spec.model.mountPath",
    "spec.model.imagePullSecrets",
    "spec.engine",
    "spec.engine.image",
    "spec.engine.port",
    "spec.engine.args",
    "spec.engine.env",
    "spec.engine.imagePullPolicy",
    "spec.accelerator",
    "spec.accelerator.type",
    "spec.decode",
    "spec.decode.replicas",
    "spec.decode.parallelism",
    "spec.decode.resources",
    "spec.decode.tolerations",
    "spec.decode.nodeSelector",
    "spec.prefill",
    "spec.routingProxy",
    "spec.routingProxy.targetPort",
    "spec.inferencePool",
    "spec.inferencePool.endpointPicker",
    "spec.httpRoute",
    "spec.monitoring",
    "spec.monitoring.podMonitor",
    "spec.unknown",
]
mutations = st.lists(st.tuples(st.sampled_from(PATHS), json_values | st.just(...)), min_size=1, max_size=5)


def _assert_well_formed(answer: handling.Answer, obj: Any = None) -> None:
    assert answer.status in (200, 400)
    review = json.loads(answer.body)
    assert review["kind"] == "AdmissionReview"
    assert review["apiVersion"].startswith("admission.k8s.io/")
    response = review["response"]
    assert isinstance(response["uid"], str)
    assert isinstance(response["allowed"], bool)
    if not response["allowed"]:
        assert response["status"]["code"] in (400, 403, 422)
        assert response["status"]["message"]
    if "patch" in response and isinstance(obj, dict):
        patched = jsonpatch.apply_patch(obj, json.loads(base64.b64decode(response["patch"])))
        again = handling.handle(
            json.dumps(samples.review(patched)).encode(), "application/json", "mutate", SETTINGS
        )
        assert "patch" not in json.loads(again.body)["response"], (
            "mutating the mutated object must be a no-op"
        )


def _mutated(base: dict[str, Any], changes: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = copy.deepcopy(base)
    for path, value in changes:
        try:
            obj = samples.with_changes(obj, path, value)
        except (AttributeError, TypeError):
            continue  # a parent was replaced by a non-object earlier in the list
    return obj


@PROPERTY
@given(body=st.binary(max_size=200))
def test_random_bytes_get_a_400_or_an_answer(body: bytes) -> None:
    _assert_well_formed(handling.handle(body, "application/json", "validate", SETTINGS))


@PROPERTY
@given(body=json_values)
def test_random_json_gets_a_400(body: Any) -> None:
    answer = handling.handle(json.dumps(body).encode(), "application/json", "mutate", SETTINGS)
    assert answer.status == 400
    _assert_well_formed(answer)


@PROPERTY
@given(
    base=st.sampled_from([samples.minimal(), samples.full_pd()]),
    changes=mutations,
    hook=st.sampled_from(["mutate", "validate"]),
    operation=st.sampled_from(["CREATE", "UPDATE"]),
)
def test_mutated_model_services_get_a_well_formed_answer(
    base: dict[str, Any], changes: list[tuple[str, Any]], hook: Any, operation: str
) -> None:
    obj = _mutated(base, changes)
    old = base if operation == "UPDATE" else None
    answer = handling.handle(
        json.dumps(samples.review(obj, operation, old)).encode(), "application/json", hook, SETTINGS
    )
    assert answer.status == 200
    _assert_well_formed(answer, obj if hook == "mutate" else None)


@PROPERTY
@given(
    changes=st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "apiVersion",
                    "kind",
                    "request",
                    "request.uid",
                    "request.kind",
                    "request.kind.kind",
                    "request.operation",
                    "request.object",
                    "request.oldObject",
                    "request.dryRun",
                    "request.subResource",
                ]
            ),
            json_values | st.just(...),
        ),
        min_size=1,
        max_size=4,
    ),
    hook=st.sampled_from(["mutate", "validate"]),
)
def test_mutated_admission_reviews_get_an_answer_or_a_400(changes: list[tuple[str, Any]], hook: Any) -> None:
    body = _mutated(samples.review(samples.full_pd()), changes)
    _assert_well_formed(handling.handle(json.dumps(body).encode(), "application/json", hook, SETTINGS))
