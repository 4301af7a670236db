"""The EPP metrics-reader token Secret."""

from __future__ import annotations

from typing import Any

import pytest

from shared.builders import epp_secret
from tests.builders.factories import EPP_META, make_ms, settings

POOL: dict[str, Any] = {"inferencePool": {"endpointPicker": {}}}


def test_secret_requests_a_token_for_the_epp_service_account() -> None:
    assert epp_secret.build_epp_secret(make_ms(POOL), settings()) == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": EPP_META
        | {
            "name": "qwen3-0-6b-epp-sa-metrics-reader-secret",
            "annotations": {"kubernetes.io/service-account.name": "qwen3-0-6b-epp"},
        },
        "type": "kubernetes.io/service-account-token",
    }


@pytest.mark.parametrize(
    ("spec", "changes", "wanted"),
    [
        (POOL, {}, True),
        (POOL, {"provider": "none"}, True),
        ({}, {}, False),
        (POOL, {"metrics_endpoint_auth": False}, False),
        (POOL, {"provider": "gke"}, False),
    ],
    ids=["pool, auth, istio", "pool, auth, no provider", "no pool", "auth off", "gke"],
)
def test_secret_presence(spec: dict[str, Any], changes: dict[str, Any], wanted: bool) -> None:
    assert (epp_secret.build_epp_secret(make_ms(spec), settings(**changes)) is not None) is wanted
