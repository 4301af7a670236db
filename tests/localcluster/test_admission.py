"""The admission chain: mutating then validating webhooks over HTTPS, as the API server calls them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import kubernetes.aio.client as k
import pytest
from kubernetes.aio.client.exceptions import ApiException

from localcluster import LocalCluster
from tests.localcluster.conftest import configmap, deployment, status_of, widget_crd
from tests.localcluster.webhook_server import WebhookServer, config, hook, json_patch, webhook_server

Manifest = dict[str, Any]
MUTATING, VALIDATING = "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"


@pytest.fixture
async def webhook() -> AsyncIterator[WebhookServer]:
    async with webhook_server() as server:
        yield server


def url_config(server: WebhookServer, path: str) -> Manifest:
    return {"url": server.url(path), "caBundle": server.ca_bundle}


async def install(cluster: LocalCluster, kind: str, *hooks: Manifest, name: str = "hooks") -> None:
    await cluster.create(config(kind, name, list(hooks)))


async def test_mutating_patch_is_applied_and_the_review_is_complete(
    local_cluster: LocalCluster, webhook: WebhookServer, core: Any
) -> None:
    webhook.responders["/mutate"] = lambda _p, _r: json_patch(
        {"op": "add", "path": "/metadata/labels", "value": {"mutated": "yes"}}
    )
    await install(
        local_cluster, MUTATING, hook("m.example.com", url_config(webhook, "/mutate"), ["configmaps"])
    )
    created = await core.create_namespaced_config_map("default", configmap("a", x="1"))
    assert created.metadata.labels == {"mutated": "yes"}
    (call,) = webhook.calls
    assert call.query == {"timeout": "10s"}
    request = call.request
    assert request["operation"] == "CREATE" and request["name"] == "a" and request["namespace"] == "default"
    assert request["kind"] == {"group": "", "version": "v1", "kind": "ConfigMap"}
    assert request["resource"] == {"group": "", "version": "v1", "resource": "configmaps"}
    assert request["requestKind"] == request["kind"] and request["requestResource"] == request["resource"]
    assert request["object"]["data"] == {"x": "1"} and request["oldObject"] is None
    assert request["dryRun"] is False and request["options"]["kind"] == "CreateOptions"
    assert request["userInfo"]["username"] and request["uid"]
    assert "subResource" not in request


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        (
            {"code": 403, "reason": "Forbidden", "message": "no way"},
            403,
            'admission webhook "v.example.com" denied the request: no way',
        ),
        ({"message": "bad object"}, 400, 'admission webhook "v.example.com" denied the request: bad object'),
        ({"code": 200, "reason": "Nope"}, 400, 'admission webhook "v.example.com" denied the request: Nope'),
        ({}, 400, 'admission webhook "v.example.com" denied the request without explanation'),
        (
            {"code": 422, "message": "spec.x: invalid"},
            422,
            'admission webhook "v.example.com" denied the request: spec.x: invalid',
        ),
    ],
    ids=["webhook-code-kept", "absent-code-is-400", "code-below-400-is-400", "no-explanation", "422-kept"],
)
async def test_denials_are_reported_like_the_api_server(
    local_cluster: LocalCluster, webhook: WebhookServer, core: Any, status: Manifest, code: int, message: str
) -> None:
    webhook.responders["/validate"] = lambda _p, _r: {"allowed": False, "status": status}
    await install(
        local_cluster, VALIDATING, hook("v.example.com", url_config(webhook, "/validate"), ["configmaps"])
    )
    with pytest.raises(ApiException) as info:
        await core.create_namespaced_config_map("default", configmap("a"))
    assert info.value.status == code
    assert status_of(info.value)["message"] == message
    assert local_cluster.get("v1", "ConfigMap", "a", "default") is None


async def test_warnings_from_both_phases_become_warning_headers(
    local_cluster: LocalCluster, webhook: WebhookServer
) -> None:
    webhook.responders["/mutate"] = lambda _p, _r: {"warnings": ["from mutating"]}
    webhook.responders["/validate"] = lambda _p, _r: {"warnings": ["from validating"]}
    await install(
        local_cluster, MUTATING, hook("m.example.com", url_config(webhook, "/mutate"), ["configmaps"])
    )
    await install(
        local_cluster, VALIDATING, hook("v.example.com", url_config(webhook, "/validate"), ["configmaps"])
    )
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{local_cluster.url}/api/v1/namespaces/default/configmaps", json=configmap("a")) as resp,
    ):
        assert resp.status == 201
        assert resp.headers.getall("Warning") == ['299 - "from mutating"', '299 - "from validating"']


@pytest.mark.parametrize(("policy", "created"), [("Fail", False), ("Ignore", True)], ids=["fail", "ignore"])
async def test_unreachable_webhook_honours_failure_policy(
    local_cluster: LocalCluster, core: Any, policy: str, created: bool
) -> None:
    unreachable = {"url": "https://127.0.0.1:1/validate"}
    await install(
        local_cluster, VALIDATING, hook("v.example.com", unreachable, ["configmaps"], failurePolicy=policy)
    )
    if created:
        await core.create_namespaced_config_map("default", configmap("a"))
        assert local_cluster.get("v1", "ConfigMap", "a", "default") is not None
        return
    with pytest.raises(ApiException) as info:
        await core.create_namespaced_config_map("default", configmap("a"))
    status = status_of(info.value)
    assert info.value.status == 500 and status["reason"] == "InternalError"
    assert status["message"].startswith(
        'Internal error occurred: failed calling webhook "v.example.com": failed to call webhook: '
        'Post "https://127.0.0.1:1/validate?timeout=10s"'
    )


async def test_webhook_slower_than_its_timeout_fails_the_request(
    local_cluster: LocalCluster, webhook: WebhookServer, core: Any
) -> None:
    webhook.hold = True
    await install(
        local_cluster,
        VALIDATING,
        hook("v.example.com", url_config(webhook, "/validate"), ["configmaps"], timeoutSeconds=1),
    )
    with pytest.raises(ApiException) as info:
        await core.create_namespaced_config_map("default", configmap("a"))
    assert info.value.status == 500
    assert "context deadline exceeded" in status_of(info.value)["message"]
    assert webhook.calls[0].query == {"timeout": "1s"}


async def test_certificate_not_signed_by_the_ca_bundle_fails(
    local_cluster: LocalCluster, webhook: WebhookServer, core: Any
) -> None:
    async with webhook_server() as other:
        wrong_ca = {"url": webhook.url("/validate"), "caBundle": other.ca_bundle}
        await install(local_cluster, VALIDATING, hook("v.example.com", wrong_ca, ["configmaps"]))
        with pytest.raises(ApiException) as info:
            await core.create_namespaced_config_map("default", configmap("a"))
    assert info.value.status == 500
    assert "certificate verify failed" in status_of(info.value)["message"]
    assert webhook.calls == []


async def test_service_reference_resolves_through_the_host_map(
    local_cluster_factory: Any, webhook: WebhookServer
) -> None:
    cluster: LocalCluster = await local_cluster_factory(
        service_hosts={"hook.system:443": f"127.0.0.1:{webhook.port}"}
    )
    webhook.responders["/mutate"] = lambda _p, _r: json_patch(
        {"op": "add", "path": "/data", "value": {"via": "service"}}
    )
    service = {
        "service": {"name": "hook", "namespace": "system", "path": "/mutate"},
        "caBundle": webhook.ca_bundle,
    }
    await install(cluster, MUTATING, hook("m.example.com", service, ["configmaps"]))
    created = await cluster.create(configmap("a"))
    assert created["data"] == {"via": "service"}


async def test_selectors_limit_which_objects_reach_the_webhook(
    local_cluster: LocalCluster, webhook: WebhookServer, core: Any
) -> None:
    await core.create_namespace({"metadata": {"name": "watched", "labels": {"admission": "on"}}})
    await install(
        local_cluster,
        VALIDATING,
        hook(
            "v.example.com",
            url_config(webhook, "/validate"),
            ["configmaps"],
            namespaceSelector={"matchLabels": {"admission": "on"}},
            objectSelector={"matchExpressions": [{"key": "skip", "operator": "DoesNotExist"}]},
        ),
    )
    await core.create_namespaced_config_map("default", configmap("other-namespace"))
    await core.create_namespaced_config_map("watched", configmap("skipped", {"skip": "yes"}))
    await core.create_namespaced_config_map("watched", configmap("checked"))
    assert [c.request["name"] for c in webhook.calls] == ["checked"]


async def test_rules_match_operations_and_the_status_subresource(
    local_cluster: LocalCluster, webhook: WebhookServer, apps: Any
) -> None:
    await install(
        local_cluster,
        VALIDATING,
        hook("status.example.com", url_config(webhook, "/status"), ["deployments/status"], ["UPDATE"]),
        hook("main.example.com", url_config(webhook, "/main"), ["deployments"], ["UPDATE"]),
    )
    await apps.create_namespaced_deployment("default", deployment())
    assert webhook.calls == []
    await apps.patch_namespaced_deployment_status("web", "default", {"status": {"replicas": 1}})
    (status_call,) = webhook.calls_to("/status")
    assert status_call["subResource"] == "status" and status_call["operation"] == "UPDATE"
    assert status_call["oldObject"]["metadata"]["name"] == "web"
    assert webhook.calls_to("/main") == []


async def test_delete_sends_the_old_object_and_delete_options(
    local_cluster: LocalCluster, webhook: WebhookServer, core: Any
) -> None:
    await install(
        local_cluster,
        VALIDATING,
        hook("v.example.com", url_config(webhook, "/validate"), ["configmaps"], ["DELETE"]),
    )
    await core.create_namespaced_config_map("default", configmap("a"))
    await core.delete_namespaced_config_map("a", "default")
    (request,) = webhook.calls_to("/validate")
    assert request["operation"] == "DELETE" and request["object"] is None
    assert request["oldObject"]["metadata"]["name"] == "a" and request["options"]["kind"] == "DeleteOptions"


async def test_dry_run_reaches_webhooks_and_persists_nothing(
    local_cluster: LocalCluster, webhook: WebhookServer, core: Any
) -> None:
    await install(
        local_cluster, MUTATING, hook("m.example.com", url_config(webhook, "/mutate"), ["configmaps"])
    )
    await core.create_namespaced_config_map("default", configmap("a"), dry_run="All")
    assert webhook.calls[0].request["dryRun"] is True
    assert local_cluster.get("v1", "ConfigMap", "a", "default") is None


async def test_dry_run_is_refused_by_webhooks_with_side_effects(
    local_cluster: LocalCluster, webhook: WebhookServer, core: Any
) -> None:
    await install(
        local_cluster,
        MUTATING,
        hook("m.example.com", url_config(webhook, "/mutate"), ["configmaps"], sideEffects="Some"),
    )
    with pytest.raises(ApiException) as info:
        await core.create_namespaced_config_map("default", configmap("a"), dry_run="All")
    assert info.value.status == 400
    assert status_of(info.value)["message"] == 'admission webhook "m.example.com" does not support dry run'
    assert webhook.calls == []


@pytest.mark.parametrize(("policy", "calls"), [("IfNeeded", 2), ("Never", 1)], ids=["if-needed", "never"])
async def test_reinvocation_reruns_earlier_webhooks_after_a_later_change(
    local_cluster: LocalCluster, webhook: WebhookServer, core: Any, policy: str, calls: int
) -> None:
    webhook.responders["/second"] = lambda _p, _r: json_patch(
        {"op": "add", "path": "/metadata/labels", "value": {"second": "yes"}}
    )
    await install(
        local_cluster,
        MUTATING,
        hook("first.example.com", url_config(webhook, "/first"), ["configmaps"], reinvocationPolicy=policy),
        hook("second.example.com", url_config(webhook, "/second"), ["configmaps"]),
    )
    await core.create_namespaced_config_map("default", configmap("a"))
    first_calls = webhook.calls_to("/first")
    assert len(first_calls) == calls
    if calls == 2:
        assert first_calls[1]["object"]["metadata"]["labels"] == {"second": "yes"}


async def test_order_is_mutation_then_schema_then_validation(
    local_cluster: LocalCluster, webhook: WebhookServer, custom: Any
) -> None:
    await local_cluster.install_crd(widget_crd())
    webhook.responders["/mutate"] = lambda _p, req: json_patch(
        {"op": "add", "path": "/spec/color", "value": "red"}, {"op": "remove", "path": "/spec/size"}
    )
    await install(local_cluster, MUTATING, hook("m.example.com", url_config(webhook, "/mutate"), ["widgets"]))
    await install(
        local_cluster, VALIDATING, hook("v.example.com", url_config(webhook, "/validate"), ["widgets"])
    )
    body = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 4}}
    created = await custom.create_namespaced_custom_object("example.com", "v1", "default", "widgets", body)
    (mutate_request,) = webhook.calls_to("/mutate")
    (validate_request,) = webhook.calls_to("/validate")
    assert mutate_request["object"]["spec"] == {"size": 4}
    assert validate_request["object"]["spec"] == {"size": 1, "color": "red"}  # re-defaulted after mutation
    assert created["spec"] == {"size": 1, "color": "red"}


async def test_mutation_that_breaks_the_schema_is_422(
    local_cluster: LocalCluster, webhook: WebhookServer, custom: Any
) -> None:
    await local_cluster.install_crd(widget_crd())
    webhook.responders["/mutate"] = lambda _p, _r: json_patch(
        {"op": "replace", "path": "/spec/size", "value": -1}
    )
    await install(local_cluster, MUTATING, hook("m.example.com", url_config(webhook, "/mutate"), ["widgets"]))
    body = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 4}}
    with pytest.raises(ApiException) as info:
        await custom.create_namespaced_custom_object("example.com", "v1", "default", "widgets", body)
    assert info.value.status == 422


@pytest.mark.parametrize(
    ("match_policy", "called"), [("Equivalent", True), ("Exact", False)], ids=["equivalent", "exact"]
)
async def test_match_policy_equivalent_converts_to_the_rule_version(
    local_cluster: LocalCluster, webhook: WebhookServer, custom: Any, match_policy: str, called: bool
) -> None:
    await local_cluster.install_crd(widget_crd(versions=("v1", "v2")))
    rule_v1 = hook("v.example.com", url_config(webhook, "/validate"), ["widgets"], matchPolicy=match_policy)
    rule_v1["rules"][0]["apiVersions"] = ["v1"]
    await install(local_cluster, VALIDATING, rule_v1)
    body = {"apiVersion": "example.com/v2", "kind": "Widget", "metadata": {"name": "w"}, "spec": {}}
    await custom.create_namespaced_custom_object("example.com", "v2", "default", "widgets", body)
    if not called:
        assert webhook.calls == []
        return
    (request,) = webhook.calls_to("/validate")
    assert request["kind"]["version"] == "v1" and request["requestKind"]["version"] == "v2"
    assert request["object"]["apiVersion"] == "example.com/v1"


async def test_patch_requests_are_admitted_as_updates(
    local_cluster: LocalCluster, webhook: WebhookServer, core: Any
) -> None:
    await core.create_namespaced_config_map("default", configmap("a", x="1"))
    await install(
        local_cluster, VALIDATING, hook("v.example.com", url_config(webhook, "/validate"), ["configmaps"])
    )
    await core.patch_namespaced_config_map("a", "default", {"data": {"x": "2"}})
    (request,) = webhook.calls_to("/validate")
    assert request["operation"] == "UPDATE"
    assert (request["oldObject"]["data"], request["object"]["data"]) == ({"x": "1"}, {"x": "2"})


async def test_webhook_configuration_with_http_url_is_rejected(local_cluster: LocalCluster, api: Any) -> None:
    admission: Any = k.AdmissionregistrationV1Api(api)
    with pytest.raises(ApiException) as info:
        await admission.create_validating_webhook_configuration(
            config(VALIDATING, "bad", [hook("v.example.com", {"url": "http://127.0.0.1/x"}, ["configmaps"])])
        )
    assert info.value.status == 422
    assert status_of(info.value)["details"]["causes"][0]["field"] == "webhooks[0].clientConfig.url"
