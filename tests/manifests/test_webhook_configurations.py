"""The webhook configurations: ModelService CREATE and UPDATE only, fail closed, fast, side-effect
free, pointing at the webhook Service, and carrying the CA the chosen flavour provides."""

from __future__ import annotations

from typing import Any

import pytest

from tests.manifests import layout
from tests.manifests.layout import Manifest

MUTATING = ("MutatingWebhookConfiguration", "modelservice-mutating", "/mutate")
VALIDATING = ("ValidatingWebhookConfiguration", "modelservice-validating", "/validate")
CONFIGURATIONS = [MUTATING, VALIDATING]

COMMON: dict[str, Any] = {
    "sideEffects": "None",
    "failurePolicy": "Fail",
    "timeoutSeconds": 5,
    "matchPolicy": "Equivalent",
    "admissionReviewVersions": ["v1"],
    "rules": [
        {
            "apiGroups": ["model.otterscale.io"],
            "apiVersions": ["v1alpha1"],
            "operations": ["CREATE", "UPDATE"],
            "resources": ["modelservices"],
            "scope": "Namespaced",
        }
    ],
}
MUTATING_ONLY = {"reinvocationPolicy": "IfNeeded"}


def webhook(objects: list[Manifest], kind: str, name: str) -> Manifest:
    (only,) = layout.find(objects, kind, name)["webhooks"]
    assert isinstance(only, dict)
    return only


FIELD_CASES = [
    (kind, name, field, value)
    for kind, name, _ in CONFIGURATIONS
    for field, value in (COMMON | (MUTATING_ONLY if kind == MUTATING[0] else {})).items()
]


@pytest.mark.parametrize(
    ("kind", "name", "field", "value"), FIELD_CASES, ids=[f"{c[0]}-{c[2]}" for c in FIELD_CASES]
)
def test_webhook_field_has_the_required_value(
    kind: str, name: str, field: str, value: Any, default_install: list[Manifest]
) -> None:
    assert webhook(default_install, kind, name)[field] == value


@pytest.mark.parametrize(("kind", "name", "path"), CONFIGURATIONS, ids=["mutating", "validating"])
def test_webhook_calls_the_webhook_service_on_its_path(
    kind: str, name: str, path: str, default_install: list[Manifest]
) -> None:
    client = webhook(default_install, kind, name)["clientConfig"]
    assert client["service"] == {
        "name": layout.WEBHOOK_SERVICE,
        "namespace": layout.NAMESPACE,
        "path": path,
        "port": 443,
    }
    service = layout.find(default_install, "Service", layout.WEBHOOK_SERVICE)
    assert [p["port"] for p in service["spec"]["ports"]] == [443]


def test_webhook_names_are_fully_qualified_and_distinct(default_install: list[Manifest]) -> None:
    names = [webhook(default_install, kind, name)["name"] for kind, name, _ in CONFIGURATIONS]
    assert len(set(names)) == 2
    assert all(n.count(".") >= 2 for n in names), names


def test_validating_webhook_does_not_reinvoke(default_install: list[Manifest]) -> None:
    # reinvocationPolicy exists only on mutating webhooks; the strict schema would reject it too.
    assert "reinvocationPolicy" not in webhook(default_install, *VALIDATING[:2])


@pytest.mark.parametrize(("kind", "name", "path"), CONFIGURATIONS, ids=["mutating", "validating"])
def test_base_ships_an_empty_ca_bundle_placeholder(
    kind: str, name: str, path: str, flavours: dict[str, list[Manifest]]
) -> None:
    assert webhook(flavours["base"], kind, name)["clientConfig"]["caBundle"] == ""
