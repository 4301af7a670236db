"""The aiohttp app through a real HTTP client: routes, probes, limits, metrics."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.webhook import samples
from tests.webhook.jsonlog import json_lines
from webhook.app import MUTATE_PATHS, STATE_KEY, VALIDATE_PATHS, make_app
from webhook.config import WebhookConfig
from webhook.metrics import WebhookMetrics, make_metrics_app

Client = TestClient[web.Request, web.Application]
MakeClient = Callable[[web.Application], Awaitable[Client]]


@pytest.fixture
def metrics() -> WebhookMetrics:
    return WebhookMetrics()


@pytest.fixture
async def client(aiohttp_client: MakeClient, metrics: WebhookMetrics) -> Client:
    return await aiohttp_client(make_app(WebhookConfig(max_body_bytes=64 * 1024), metrics))


@pytest.mark.parametrize("path", MUTATE_PATHS, ids=["short", "kubebuilder"])
async def test_mutate_paths_answer_with_a_patch(client: Client, path: str) -> None:
    resp = await client.post(path, json=samples.review(samples.minimal()))
    assert resp.status == 200
    body = await resp.json()
    assert body["response"]["patchType"] == "JSONPatch"
    assert json.loads(base64.b64decode(body["response"]["patch"]))[0]["path"] == "/metadata/annotations"


@pytest.mark.parametrize("path", VALIDATE_PATHS, ids=["short", "kubebuilder"])
async def test_validate_paths_deny_an_invalid_object(client: Client, path: str) -> None:
    obj = samples.with_changes(samples.minimal(), "spec.engine", {"port": 0})
    resp = await client.post(path, json=samples.review(obj))
    assert resp.status == 200
    status = (await resp.json())["response"]["status"]
    assert (status["code"], status["details"]["causes"][0]["field"]) == (422, "spec.engine.port")


async def test_wrong_content_type_is_a_400_json_answer(client: Client) -> None:
    resp = await client.post("/validate", data=b"{}", headers={"Content-Type": "text/plain"})
    assert resp.status == 400
    assert resp.content_type == "application/json"
    assert (await resp.json())["response"]["status"]["reason"] == "BadRequest"


async def test_charset_parameter_is_accepted(client: Client) -> None:
    body = json.dumps(samples.review(samples.minimal())).encode()
    resp = await client.post(
        "/mutate", data=body, headers={"Content-Type": "application/json; charset=utf-8"}
    )
    assert resp.status == 200


@pytest.mark.parametrize("chunked", [False, True], ids=["with content length", "chunked"])
async def test_body_over_the_limit_is_a_400(client: Client, chunked: bool) -> None:
    big = json.dumps(
        samples.review(samples.with_changes(samples.minimal(), "metadata.labels", {"x": "y" * 70_000}))
    )

    async def chunks() -> Any:
        yield big.encode()

    data: Any = chunks() if chunked else big.encode()
    resp = await client.post("/validate", data=data, headers={"Content-Type": "application/json"})
    assert resp.status == 400
    assert "exceeds the limit" in (await resp.json())["response"]["status"]["message"]


async def test_wrong_method_and_unknown_path_are_plain_http_errors(client: Client) -> None:
    assert (await client.get("/validate")).status == 405
    assert (await client.post("/nope", json={})).status == 404


async def test_health_and_readiness(client: Client) -> None:
    assert (await client.get("/healthz")).status == 200
    assert (await client.get("/readyz")).status == 200
    client.app[STATE_KEY].ready = False
    assert (await client.get("/readyz")).status == 503


async def test_metrics_count_requests_denials_and_latency(
    client: Client, metrics: WebhookMetrics, aiohttp_client: MakeClient
) -> None:
    await client.post("/mutate", json=samples.review(samples.minimal()))
    await client.post(
        "/validate", json=samples.review(samples.with_changes(samples.minimal(), "spec.engine", 1))
    )
    await client.post("/validate", data=b"x", headers={"Content-Type": "application/json"})
    metrics.set_cert_expiry(1234.0)
    metrics_client = await aiohttp_client(make_metrics_app(metrics))
    text = await (await metrics_client.get("/metrics")).text()
    assert 'webhook_admission_requests_total{hook="mutate",operation="CREATE",verdict="patched"} 1.0' in text
    assert (
        'webhook_admission_requests_total{hook="validate",operation="unknown",verdict="bad_request"} 1.0'
        in text
    )
    assert 'webhook_admission_denials_total{hook="validate",reason="Invalid"} 1.0' in text
    assert 'webhook_admission_denials_total{hook="validate",reason="BadRequest"} 1.0' in text
    assert 'webhook_admission_duration_seconds_count{hook="mutate",verdict="patched"} 1.0' in text
    assert "webhook_admission_in_flight_requests 0.0" in text
    assert "webhook_certificate_expiry_timestamp_seconds 1234.0" in text


async def test_denials_are_logged_as_json_with_the_uid_and_without_object_contents(client: Client) -> None:
    secret_image = "registry.example/secret-model:1"
    with json_lines("webhook.app") as lines:
        obj = samples.with_changes(samples.minimal(), "spec.model.image", secret_image)
        obj["spec"]["engine"]["port"] = 0
        await client.post("/validate", json=samples.review(obj, uid="uid-log"))
    (entry,) = lines
    assert {k: entry[k] for k in ("level", "uid", "hook", "operation", "verdict", "reason")} == {
        "level": "INFO",
        "uid": "uid-log",
        "hook": "validate",
        "operation": "CREATE",
        "verdict": "denied",
        "reason": "Invalid",
    }
    assert secret_image not in json.dumps(entry)
    assert "message" not in entry


async def test_at_debug_a_denial_line_carries_the_message_and_the_answer_is_still_a_denial(
    client: Client,
) -> None:
    with json_lines("webhook.app", logging.DEBUG) as lines:
        obj = samples.with_changes(samples.minimal(), "spec.engine.port", 0)
        resp = await client.post("/validate", json=samples.review(obj, uid="uid-debug"))
        assert resp.status == 200
        assert (await resp.json())["response"]["status"]["code"] == 422
    (entry,) = lines
    assert entry["verdict"] == "denied"
    assert "spec.engine.port" in entry["detail"]


async def test_allowed_admissions_log_nothing_at_info_warnings_log_who_and_what(client: Client) -> None:
    with json_lines("webhook.app") as lines:
        await client.post("/validate", json=samples.review(samples.minimal(), uid="uid-allowed"))
        warned = samples.with_changes(
            samples.minimal(), "spec.decode.resources", {"limits": {"nvidia.com/gpu": 2}}
        )
        body = samples.review(warned, uid="uid-warned")
        body["request"]["userInfo"] = {"username": "alice@example.com"}
        await client.post("/validate", json=body)
    (entry,) = lines
    assert {k: entry[k] for k in ("level", "uid", "verdict", "user", "object")} == {
        "level": "INFO",
        "uid": "uid-warned",
        "verdict": "warned",
        "user": "alice@example.com",
        "object": "llm/qwen3-0.6b",
    }
