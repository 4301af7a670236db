"""LIST and WATCH: selectors, pagination, resourceVersions, bookmarks, resume and 410 Gone."""

from __future__ import annotations

import asyncio
from typing import Any

import kubernetes.aio.watch
import kubernetes.client
import kubernetes.watch
import pytest
from kubernetes.aio.client.exceptions import ApiException

from localcluster import LocalCluster
from localcluster.testing import api_client, raw_watch
from tests.localcluster.conftest import configmap

Manifest = dict[str, Any]

LABELED = {
    "a": {"env": "prod", "tier": "web"},
    "b": {"env": "dev", "tier": "web"},
    "c": {"env": "prod"},
    "d": {},
}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("env=prod", ["a", "c"]),
        ("env==prod", ["a", "c"]),
        ("env!=prod", ["b", "d"]),
        ("env in (dev, staging)", ["b"]),
        ("env notin (prod)", ["b", "d"]),
        ("tier", ["a", "b"]),
        ("!tier", ["c", "d"]),
        ("env=prod,tier=web", ["a"]),
        ("env=prod,!tier", ["c"]),
    ],
    ids=[
        "equals",
        "double-equals",
        "not-equals-includes-unlabeled",
        "in",
        "notin-includes-unlabeled",
        "exists",
        "does-not-exist",
        "conjunction",
        "equality-and-absence",
    ],
)
async def test_label_selectors_select_like_the_real_server(
    core: Any, selector: str, expected: list[str]
) -> None:
    for name, labels in LABELED.items():
        await core.create_namespaced_config_map("default", configmap(name, labels))
    listed = await core.list_namespaced_config_map("default", label_selector=selector)
    assert [o.metadata.name for o in listed.items] == expected


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("metadata.name=b", ["b"]),
        ("metadata.name!=b", ["a", "c"]),
        ("metadata.namespace=default", ["a", "b", "c"]),
    ],
    ids=["name-equals", "name-not-equals", "namespace"],
)
async def test_field_selectors_on_name_and_namespace(core: Any, selector: str, expected: list[str]) -> None:
    for name in ("a", "b", "c"):
        await core.create_namespaced_config_map("default", configmap(name))
    listed = await core.list_namespaced_config_map("default", field_selector=selector)
    assert [o.metadata.name for o in listed.items] == expected


async def test_unknown_field_selector_is_400(core: Any) -> None:
    with pytest.raises(ApiException) as info:
        await core.list_namespaced_config_map("default", field_selector="spec.nodeName=x")
    assert info.value.status == 400


async def test_malformed_label_selector_is_400(core: Any) -> None:
    with pytest.raises(ApiException) as info:
        await core.list_namespaced_config_map("default", label_selector="env in prod")
    assert info.value.status == 400


async def test_list_reports_the_current_global_resource_version(core: Any) -> None:
    await core.create_namespaced_config_map("default", configmap("a"))
    latest = await core.create_namespaced_config_map("default", configmap("b"))
    listed = await core.list_namespaced_config_map("default")
    assert listed.metadata.resource_version == latest.metadata.resource_version


async def test_all_namespaces_list_spans_namespaces(core: Any) -> None:
    await core.create_namespace({"metadata": {"name": "other"}})
    await core.create_namespaced_config_map("default", configmap("a"))
    await core.create_namespaced_config_map("other", configmap("b"))
    listed = await core.list_config_map_for_all_namespaces()
    assert [(o.metadata.namespace, o.metadata.name) for o in listed.items] == [
        ("default", "a"),
        ("other", "b"),
    ]


async def test_limit_and_continue_page_through_every_object_once(core: Any) -> None:
    names = [f"cm-{i:02}" for i in range(7)]
    for name in names:
        await core.create_namespaced_config_map("default", configmap(name))
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = await core.list_namespaced_config_map("default", limit=3, _continue=token)
        seen += [o.metadata.name for o in page.items]
        pages += 1
        token = page.metadata._continue
        if not token:
            break
    assert seen == names
    assert pages == 3


async def test_continue_token_older_than_the_history_is_410(local_cluster_factory: Any) -> None:
    cluster: LocalCluster = await local_cluster_factory(history_size=2)
    with api_client(cluster) as client:
        core: Any = kubernetes.client.CoreV1Api(client)
        for i in range(3):
            await asyncio.to_thread(core.create_namespaced_config_map, "default", configmap(f"cm-{i}"))
        page = await asyncio.to_thread(core.list_namespaced_config_map, "default", limit=1)
        for i in range(3, 6):
            await asyncio.to_thread(core.create_namespaced_config_map, "default", configmap(f"cm-{i}"))
        with pytest.raises(kubernetes.client.ApiException) as info:
            await asyncio.to_thread(
                core.list_namespaced_config_map, "default", limit=1, _continue=page.metadata._continue
            )
    assert info.value.status == 410


async def test_official_async_watch_sees_added_modified_deleted(
    core: Any, local_cluster: LocalCluster
) -> None:
    listed = await core.list_namespaced_config_map("default")
    watch = kubernetes.aio.watch.Watch()  # type: ignore[no-untyped-call]
    stream = watch.stream(  # type: ignore[no-untyped-call]
        core.list_namespaced_config_map,
        "default",
        resource_version=listed.metadata.resource_version,
        timeout_seconds=5,
    )
    await core.create_namespaced_config_map("default", configmap("a", x="1"))
    await core.patch_namespaced_config_map("a", "default", {"data": {"x": "2"}})
    await core.delete_namespaced_config_map("a", "default")
    seen = []
    async with asyncio.timeout(5):
        async for event in stream:
            seen.append((event["type"], event["object"].metadata.name, (event["object"].data or {}).get("x")))
            if len(seen) == 3:
                break
    await watch.close()  # type: ignore[no-untyped-call]
    assert seen == [("ADDED", "a", "1"), ("MODIFIED", "a", "2"), ("DELETED", "a", "2")]


async def test_official_sync_watch_streams_events(local_cluster: LocalCluster) -> None:
    def watch_two() -> list[tuple[str, str]]:
        with api_client(local_cluster) as client:
            core: Any = kubernetes.client.CoreV1Api(client)
            out = []
            for event in kubernetes.watch.Watch().stream(  # type: ignore[no-untyped-call]
                core.list_namespaced_config_map, "default", timeout_seconds=5
            ):
                out.append((event["type"], event["object"].metadata.name))
                if len(out) == 2:
                    break
            return out

    await local_cluster.create(configmap("existing"))
    watching = asyncio.create_task(asyncio.to_thread(watch_two))
    async with asyncio.timeout(5):
        while not list(local_cluster.store.subscribers(("", "configmaps"))):
            await asyncio.sleep(0.01)
    await local_cluster.create(configmap("new"))
    async with asyncio.timeout(10):
        assert await watching == [("ADDED", "existing"), ("ADDED", "new")]


@pytest.mark.parametrize("flag", ["true", "1"], ids=["watch-true", "watch-1"])
async def test_raw_watch_streams_newline_delimited_json(local_cluster: LocalCluster, flag: str) -> None:
    rv = local_cluster.store.resource_version
    async with raw_watch(
        local_cluster, f"/api/v1/namespaces/default/configmaps?watch={flag}&resourceVersion={rv}"
    ) as w:
        created = await local_cluster.create(configmap("a"))
        event = await w.next()
    assert event == {"type": "ADDED", "object": created}


async def test_watch_without_resource_version_replays_existing_objects_first(
    local_cluster: LocalCluster,
) -> None:
    await local_cluster.create(configmap("a"))
    await local_cluster.create(configmap("b"))
    async with raw_watch(local_cluster, "/api/v1/namespaces/default/configmaps?watch=1") as w:
        first, second = await w.next(), await w.next()
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in (first, second)] == [
        ("ADDED", "a"),
        ("ADDED", "b"),
    ]


async def test_watch_resumes_after_the_given_resource_version(local_cluster: LocalCluster) -> None:
    await local_cluster.create(configmap("a"))
    mark = local_cluster.store.resource_version
    await local_cluster.create(configmap("b"))
    await local_cluster.create(configmap("c"))
    async with raw_watch(
        local_cluster, f"/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={mark}"
    ) as w:
        names = [(await w.next())["object"]["metadata"]["name"] for _ in range(2)]
    assert names == ["b", "c"]


async def test_watch_from_a_compacted_resource_version_gets_410_expired(local_cluster_factory: Any) -> None:
    cluster: LocalCluster = await local_cluster_factory(history_size=3)
    for i in range(6):
        await cluster.create(configmap(f"cm-{i}"))
    async with raw_watch(cluster, "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=2") as w:
        assert w.resp.status == 200
        event = await w.next()
        rest = await w.rest()
    assert event["type"] == "ERROR"
    assert event["object"]["code"] == 410
    assert event["object"]["reason"] == "Expired"
    assert event["object"]["message"].startswith("too old resource version: 2 (")
    assert rest == []


async def test_official_client_raises_410_for_a_compacted_resource_version(
    local_cluster_factory: Any,
) -> None:
    cluster: LocalCluster = await local_cluster_factory(history_size=3)
    for i in range(6):
        await cluster.create(configmap(f"cm-{i}"))

    def watch_old() -> None:
        with api_client(cluster) as client:
            core: Any = kubernetes.client.CoreV1Api(client)
            for _ in kubernetes.watch.Watch().stream(  # type: ignore[no-untyped-call]
                core.list_namespaced_config_map, "default", resource_version="2", timeout_seconds=2
            ):
                pass

    with pytest.raises(kubernetes.client.ApiException) as info:
        await asyncio.to_thread(watch_old)
    assert info.value.status == 410


async def test_bookmarks_carry_only_kind_api_version_and_resource_version(local_cluster_factory: Any) -> None:
    cluster: LocalCluster = await local_cluster_factory(bookmark_interval=0.05)
    await cluster.create(configmap("a"))
    rv = cluster.store.resource_version
    path = f"/api/v1/namespaces/default/configmaps?watch=1&allowWatchBookmarks=true&resourceVersion={rv}"
    async with raw_watch(cluster, path) as w:
        event = await w.next()
    assert event == {
        "type": "BOOKMARK",
        "object": {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"resourceVersion": str(rv)}},
    }


async def test_send_initial_events_ends_with_an_annotated_bookmark(local_cluster: LocalCluster) -> None:
    await local_cluster.create(configmap("a"))
    path = (
        "/api/v1/namespaces/default/configmaps?watch=1&sendInitialEvents=true&allowWatchBookmarks=true"
        "&resourceVersionMatch=NotOlderThan"
    )
    async with raw_watch(local_cluster, path) as w:
        added, bookmark = await w.next(), await w.next()
    assert added["type"] == "ADDED"
    assert bookmark["type"] == "BOOKMARK"
    assert bookmark["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


async def test_timeout_seconds_ends_the_stream(local_cluster: LocalCluster) -> None:
    rv = local_cluster.store.resource_version
    async with raw_watch(
        local_cluster, f"/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={rv}&timeoutSeconds=1"
    ) as w:
        assert await w.rest() == []


async def test_object_leaving_the_selector_is_deleted_for_that_watcher(
    local_cluster: LocalCluster, core: Any
) -> None:
    await core.create_namespaced_config_map("default", configmap("a", {"env": "prod"}))
    rv = local_cluster.store.resource_version
    path = f"/api/v1/namespaces/default/configmaps?watch=1&labelSelector=env%3Dprod&resourceVersion={rv}"
    async with raw_watch(local_cluster, path) as w:
        await core.patch_namespaced_config_map("a", "default", {"metadata": {"labels": {"env": "dev"}}})
        await core.create_namespaced_config_map("default", configmap("b", {"env": "dev"}))
        await core.patch_namespaced_config_map("b", "default", {"metadata": {"labels": {"env": "prod"}}})
        left, joined = await w.next(), await w.next()
    assert (left["type"], left["object"]["metadata"]["name"]) == ("DELETED", "a")
    assert left["object"]["metadata"]["labels"] == {"env": "dev"}
    assert (joined["type"], joined["object"]["metadata"]["name"]) == ("ADDED", "b")


async def test_namespaced_watch_ignores_other_namespaces(local_cluster: LocalCluster, core: Any) -> None:
    await core.create_namespace({"metadata": {"name": "other"}})
    rv = local_cluster.store.resource_version
    async with raw_watch(
        local_cluster, f"/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={rv}"
    ) as w:
        await core.create_namespaced_config_map("other", configmap("elsewhere"))
        await core.create_namespaced_config_map("default", configmap("here"))
        event = await w.next()
    assert event["object"]["metadata"]["name"] == "here"


async def test_all_namespaces_watch_sees_every_namespace(local_cluster: LocalCluster, core: Any) -> None:
    await core.create_namespace({"metadata": {"name": "other"}})
    rv = local_cluster.store.resource_version
    async with raw_watch(local_cluster, f"/api/v1/configmaps?watch=1&resourceVersion={rv}") as w:
        await core.create_namespaced_config_map("other", configmap("x"))
        await core.create_namespaced_config_map("default", configmap("y"))
        names = [(await w.next())["object"]["metadata"]["name"] for _ in range(2)]
    assert names == ["x", "y"]
