"""The fault proxy: what a client sees through it is what the API server (or a broken one) says."""

from __future__ import annotations

import asyncio
import http.client
import json
import ssl
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from testbed import ControlPlane
from testbed.faults import FaultProxy, RequestInfo, request_info

Manifest = dict[str, Any]


@pytest.mark.parametrize(
    ("method", "path", "query", "expected"),
    [
        ("GET", "/api/v1/namespaces/a/configmaps", "", RequestInfo("list", "configmaps", "a")),
        ("GET", "/api/v1/namespaces/a/configmaps", "watch=true", RequestInfo("watch", "configmaps", "a")),
        ("GET", "/api/v1/namespaces/a/configmaps/x", "", RequestInfo("get", "configmaps", "a", "x")),
        (
            "PUT",
            "/apis/apps/v1/namespaces/a/deployments/d/status",
            "",
            RequestInfo("update", "deployments/status", "a", "d"),
        ),
        (
            "PATCH",
            "/apis/apps/v1/namespaces/a/deployments/d/scale",
            "",
            RequestInfo("patch", "deployments/scale", "a", "d"),
        ),
        (
            "POST",
            "/apis/rbac.authorization.k8s.io/v1/clusterroles",
            "",
            RequestInfo("create", "clusterroles"),
        ),
        ("DELETE", "/api/v1/namespaces/a/pods", "", RequestInfo("deletecollection", "pods", "a")),
        ("GET", "/api/v1/namespaces/a", "", RequestInfo("get", "namespaces", "", "a")),
        ("PUT", "/api/v1/namespaces/a/finalize", "", RequestInfo("update", "namespaces/finalize", "", "a")),
        ("GET", "/apis", "", RequestInfo("get")),
    ],
)
def test_requests_are_read_as_the_api_server_reads_them(
    method: str, path: str, query: str, expected: RequestInfo
) -> None:
    assert request_info(method, path, query) == expected


@pytest.fixture
def proxy(control_plane: ControlPlane) -> Iterator[FaultProxy]:
    with FaultProxy(control_plane.url, ssl.create_default_context(cafile=str(control_plane.ca_file))) as p:
        yield p


def _request(
    proxy: FaultProxy, cp: ControlPlane, method: str, path: str, body: Manifest | None = None
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
    headers = {"Authorization": f"Bearer {cp.admin_token}", "Content-Type": "application/json"}
    conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, dict(response.headers), data


def _cm(name: str) -> Manifest:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}}


def test_requests_pass_through_with_the_clients_credentials_and_are_recorded(
    proxy: FaultProxy, control_plane: ControlPlane, namespace: str
) -> None:
    code, _, body = _request(
        proxy, control_plane, "POST", f"/api/v1/namespaces/{namespace}/configmaps", _cm("a")
    )
    assert code == 201
    assert json.loads(body)["metadata"]["name"] == "a"
    assert control_plane.api("GET", f"/api/v1/namespaces/{namespace}/configmaps/a")["data"] == {"k": "v"}
    assert [(r.method, r.status) for r in proxy.requests] == [("POST", 201)]


def test_injected_errors_look_like_the_api_servers(
    proxy: FaultProxy, control_plane: ControlPlane, namespace: str
) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    proxy.fail_next("create", "configmaps", code=429, retry_after=3)
    proxy.fail_next("create", "configmaps", code=500)
    code, headers, body = _request(proxy, control_plane, "POST", path, _cm("b"))
    assert (code, headers["Retry-After"]) == (429, "3")
    status = json.loads(body)
    assert (status["kind"], status["reason"], status["details"]["retryAfterSeconds"]) == (
        "Status",
        "TooManyRequests",
        3,
    )
    code, _, body = _request(proxy, control_plane, "POST", path, _cm("b"))
    assert (code, json.loads(body)["reason"]) == (500, "InternalError")
    assert _request(proxy, control_plane, "POST", path, _cm("b"))[0] == 201, "each rule fired once"


def test_a_reset_rule_drops_the_connection(
    proxy: FaultProxy, control_plane: ControlPlane, namespace: str
) -> None:
    proxy.add(verbs={"list"}, resource="configmaps", reset=True, times=1)
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        _request(proxy, control_plane, "GET", f"/api/v1/namespaces/{namespace}/configmaps")
    assert _request(proxy, control_plane, "GET", f"/api/v1/namespaces/{namespace}/configmaps")[0] == 200


async def _watch_lines(
    proxy: FaultProxy, cp: ControlPlane, path: str, opened: asyncio.Event | None = None
) -> tuple[list[bytes], Exception | None]:
    """Every line of a watch stream until it ends, and the error it ended with (if any)."""
    lines: list[bytes] = []
    headers = {"Authorization": f"Bearer {cp.admin_token}"}
    async with aiohttp.ClientSession() as session, session.get(proxy.url + path, headers=headers) as response:
        assert response.status == 200
        try:
            while line := await response.content.readline():
                lines.append(line)
                if opened is not None:
                    opened.set()
        except aiohttp.ClientPayloadError as e:
            return lines, e
    return lines, None


async def test_a_watch_is_cut_halfway_through_an_event(
    proxy: FaultProxy, control_plane: ControlPlane, namespace: str
) -> None:
    for name in ("c1", "c2", "c3"):
        control_plane.api("POST", f"/api/v1/namespaces/{namespace}/configmaps", _cm(name))
    proxy.add(verbs={"watch"}, resource="configmaps", close_watch_after=2, times=1)
    path = f"/api/v1/namespaces/{namespace}/configmaps?watch=true&resourceVersion=0"
    lines, error = await _watch_lines(proxy, control_plane, path)
    assert error is not None, "the stream ended with an error, not a clean end"
    complete = [json.loads(line) for line in lines if line.endswith(b"\n")]
    assert [e["type"] for e in complete] == ["ADDED", "ADDED"]


async def test_an_expired_watch_gets_the_410_event_a_compacted_store_gives(
    proxy: FaultProxy, control_plane: ControlPlane, namespace: str
) -> None:
    proxy.expire_next_watches(1, resource="configmaps")
    path = f"/api/v1/namespaces/{namespace}/configmaps?watch=true&resourceVersion=1"
    lines, error = await _watch_lines(proxy, control_plane, path)
    assert error is None
    event = json.loads(lines[0])
    assert (event["type"], event["object"]["code"], event["object"]["reason"]) == ("ERROR", 410, "Expired")


async def test_close_watches_ends_every_open_stream(
    proxy: FaultProxy, control_plane: ControlPlane, namespace: str
) -> None:
    control_plane.api("POST", f"/api/v1/namespaces/{namespace}/configmaps", _cm("one"))
    opened = asyncio.Event()
    path = f"/api/v1/namespaces/{namespace}/configmaps?watch=true&resourceVersion=0"
    watching = asyncio.create_task(_watch_lines(proxy, control_plane, path, opened))
    async with asyncio.timeout(10):
        await opened.wait()
        cut = await asyncio.to_thread(proxy.close_watches)
        lines, error = await watching
    assert cut == 1
    assert error is not None
    assert lines, "events before the cut arrived"


def test_a_real_compaction_expires_a_watch_from_before_it(
    control_plane: ControlPlane, namespace: str
) -> None:
    first = control_plane.api("POST", f"/api/v1/namespaces/{namespace}/configmaps", _cm("old"))
    old_rv = int(first["metadata"]["resourceVersion"])
    for i in range(3):
        control_plane.api("POST", f"/api/v1/namespaces/{namespace}/configmaps", _cm(f"new{i}"))
    assert control_plane.compact_etcd() > old_rv
    # The watch cache keeps recent history of its own; a restart starts it afresh, so the old
    # version must come from etcd, which has compacted it away.
    control_plane.restart_apiserver()
    path = f"/api/v1/namespaces/{namespace}/configmaps?watch=true&resourceVersion={old_rv}"
    conn = http.client.HTTPSConnection(
        "127.0.0.1", control_plane.port, timeout=10, context=control_plane.ssl_context()
    )
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        answer = json.loads(response.readline() if response.status == 200 else response.read())
    finally:
        conn.close()
    status = answer.get("object", answer)
    assert (status["code"], status["reason"]) == (410, "Expired"), answer
