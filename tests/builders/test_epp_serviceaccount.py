"""The EPP ServiceAccount."""

from __future__ import annotations

from shared.builders import epp_serviceaccount
from tests.builders.factories import EPP_META, SETTINGS, make_ms


def test_service_account_is_metadata_only() -> None:
    assert epp_serviceaccount.build_epp_service_account(make_ms(), SETTINGS) == {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": EPP_META,
    }
