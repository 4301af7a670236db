"""The webhook down under `failurePolicy: Fail`: writes are refused whole, and resume when it is back."""

from __future__ import annotations

from tests.e2e.system import System, example

MUTATING_HOOK = "default.modelservices.model.otterscale.io"


def test_the_installed_webhooks_fail_closed(system: System) -> None:
    kinds = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")
    configs = [system.kube.list("admissionregistration.k8s.io/v1", kind) for kind in kinds]

    policies = [hook["failurePolicy"] for found in configs for config in found for hook in config["webhooks"]]

    assert policies == ["Fail", "Fail"]


def test_writes_are_refused_while_the_webhook_is_down_and_accepted_once_it_is_back(system: System) -> None:
    for webhook in system.webhooks:
        assert webhook.child.stop() == 0, "the webhook must exit cleanly on SIGTERM"
    system.update_endpoints()

    refused = system.apply(example("minimal.yaml", "during-outage"))

    assert refused.code != 0
    assert f'failed calling webhook "{MUTATING_HOOK}"' in refused.stderr
    assert "Internal error occurred" in refused.stderr and "/mutate?timeout=5s" in refused.stderr
    assert system.get("during-outage") is None
    assert system.children("during-outage") == []

    system.add_webhook("webhook-restarted")
    system.apply(example("minimal.yaml", "during-outage")).check()

    system.wait_ready("during-outage")
    assert len(system.children("during-outage")) > 0
