"""Server-side apply against the real API server: the field manager on every child, the write
budget of a new ModelService, quiet resyncs, the takeover of children written by earlier versions
(no pod restarts), and a Deployment's replicas left to an autoscaler."""

from __future__ import annotations

import asyncio
import copy
import hashlib
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import orjson

from reconciler import apply, watches
from reconciler.apply import FIELD_MANAGER, FIELDS, USER_AGENT
from reconciler.controller import ConflictMemo, Deps, ReconcileState
from reconciler.manager import REPORTING_CONTROLLER
from reconciler.pods import TEMPLATE_HASH
from reconciler.runtime import managedfields
from reconciler.runtime.cache import Cache
from reconciler.runtime.client import Client
from reconciler.runtime.clock import SystemClock
from reconciler.runtime.discovery import RestMapper
from reconciler.runtime.events import EventRecorder
from shared import labels
from shared.api import ModelService
from shared.builders import build_all
from shared.settings import OperatorSettings
from tests.reconciler.harness import (
    DEPLOYMENTS,
    Manifest,
    condition,
    get,
    model_service,
    running_reconciler,
    wait_for,
)
from tests.support.cluster import Cluster

READY_TIMEOUT = 30.0
"""Ready needs real pods: scheduled, then started and made ready by the fake kubelets."""
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
APPLY_QUERY = f"fieldManager={FIELD_MANAGER}"
SETTINGS = OperatorSettings()
# Every child kind: prefill, the routing proxy, an explicit pool (with metrics auth on: the token
# Secret and the cluster-scoped RBAC), an explicit route, both monitors.
FULL_SPEC: Manifest = {
    "prefill": {"replicas": 1},
    "routingProxy": {},
    "inferencePool": {"endpointPicker": {"replicas": 2}},
    "httpRoute": {"gatewayRef": {"name": "gw", "namespace": "gateways"}},
    "monitoring": {"podMonitor": {"enabled": True}},
}


def _ready(cluster: Cluster, name: str) -> bool:
    return condition(get(cluster, "ModelService", name), "Ready").get("status") == "True"


def _desired(cluster: Cluster, name: str) -> list[Manifest]:
    stored = get(cluster, "ModelService", name)
    assert stored is not None, f"ModelService {name} is not stored"
    return list(build_all(ModelService.from_manifest(stored), SETTINGS).objects)


def _live(cluster: Cluster, obj: Manifest) -> Manifest | None:
    meta = obj["metadata"]
    return cluster.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace", ""))


def _path(cluster: Cluster, obj: Manifest) -> str:
    meta = obj["metadata"]
    return cluster.path(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"])


def _managers(obj: Manifest) -> list[tuple[str, str, str]]:
    return [
        (m["manager"], m["operation"], m.get("subresource", "")) for m in obj["metadata"]["managedFields"]
    ]


def _applied(cluster: Cluster, obj: Manifest) -> bool:
    """``obj`` exists and only our apply (no create or update request of ours) owns its fields."""
    live = _live(cluster, obj)
    if live is None:
        return False
    ours = [m for m in _managers(live) if m[0] == FIELD_MANAGER]
    return ours == [(FIELD_MANAGER, "Apply", "")]


def _leaves(tree: Manifest, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The paths a fieldsV1 tree owns ("." marks a list item itself)."""
    for name, sub in tree.items():
        path = (*prefix, name)
        if name == "." or not sub:
            yield path if name != "." else prefix
        else:
            yield from _leaves(sub, path)


def _shared_fields(live: Manifest) -> dict[str, set[tuple[str, ...]]]:
    """Fields our manager owns that another manager owns too, by that manager."""
    entries = live["metadata"]["managedFields"]
    ours = next(e for e in entries if e["manager"] == FIELD_MANAGER and e["operation"] == "Apply")
    mine = set(_leaves(ours["fieldsV1"]))
    shared = {}
    for entry in entries:
        if entry is not ours and (both := mine & set(_leaves(entry.get("fieldsV1") or {}))):
            shared[f"{entry['manager']} {entry['operation']} {entry.get('subresource', '')}"] = both
    return shared


# --- a new ModelService ------------------------------------------------------------------------------


async def test_every_child_is_applied_by_the_reconcilers_field_manager(cluster: Cluster) -> None:
    async with running_reconciler(cluster):
        await cluster.create(model_service("qwen", **FULL_SPEC))
        desired = _desired(cluster, "qwen")
        assert len({(o["apiVersion"], o["kind"]) for o in desired}) == 14, "every child kind"
        await wait_for(lambda: all(_applied(cluster, o) for o in desired), 15, "every child applied")
        for obj in desired:
            live = _live(cluster, obj)
            assert live is not None
            assert FIELDS.is_subset(obj, live), f"{apply.describe(obj)} is as built"
            assert _shared_fields(live) == {}, f"{apply.describe(obj)}: nobody else owns our fields"


async def test_a_new_model_service_converges_in_children_plus_two_writes(cluster: Cluster) -> None:
    async with running_reconciler(cluster) as r:
        await r.idle()
        since = len(cluster.requests)
        await cluster.create(model_service("qwen"))
        desired = _desired(cluster, "qwen")
        await wait_for(lambda: all(_applied(cluster, o) for o in desired), 15, "every child applied")
        await wait_for(lambda: _ready(cluster, "qwen"), READY_TIMEOUT, "Ready")
        await r.idle()
    writes = [w for w in cluster.requests[since:] if w.method in WRITES]
    first_status = next(i for i, w in enumerate(writes) if w.path.endswith("/status"))
    converging = writes[: first_status + 1]
    applies = [w for w in writes if APPLY_QUERY in w.query]
    assert sorted(w.path for w in applies) == sorted(_path(cluster, o) for o in desired), "one apply each"
    assert {w.status for w in applies} == {201}, "every apply created its child"
    assert len(converging) == len(desired) + 2, [f"{w.method} {w.path}" for w in converging]
    assert [w.path.rsplit("/", 1)[-1] for w in converging if w not in applies] == ["events", "status"]
    later = [w for w in writes[first_status + 1 :] if not w.path.endswith(("/status", "/events"))]
    assert later == [], "after that only the status and Events change, as the pods become ready"


async def test_a_resync_period_with_nothing_to_do_makes_no_request(cluster: Cluster) -> None:
    # Discovery looks again for kinds that are not served (optional CRDs a cluster may lack);
    # that is no reconcile's request, so it is kept out of the window.
    async with running_reconciler(cluster, resync_period=0.5, discovery_period=600) as r:
        await cluster.create(model_service("qwen"))
        await cluster.create(model_service("pd", **FULL_SPEC))
        await wait_for(lambda: _ready(cluster, "qwen") and _ready(cluster, "pd"), READY_TIMEOUT, "Ready")
        await r.idle()
        since = len(cluster.requests)
        for remembered in (True, False):
            if not remembered:
                r.manager.deps.no_op_fingerprints.clear()  # no reconcile is skipped: every child is compared
            target = r.manager.controller.reconciles + 2
            await wait_for(lambda: r.manager.controller.reconciles >= target, 5, "a resync")  # noqa: B023
            await r.idle()
            made = [f"{w.method} {w.path}?{w.query}" for w in cluster.requests[since:]]
            assert made == [], f"passes skipped by the memo: {remembered}"


# --- children of an earlier version --------------------------------------------------------------


def _legacy(obj: Manifest) -> Manifest:
    """``obj`` as earlier versions wrote it: with the hash annotation they compared."""
    digest = hashlib.sha256(orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]
    out = copy.deepcopy(obj)
    out["metadata"]["annotations"] = {**(out["metadata"].get("annotations") or {}), apply.LEGACY_HASH: digest}
    return out


def _pods(cluster: Cluster) -> dict[str, str]:
    """Pod name to uid."""
    return {p["metadata"]["name"]: p["metadata"]["uid"] for p in cluster.list("v1", "Pod")}


def _replica_sets(cluster: Cluster) -> dict[str, str]:
    """ReplicaSet name to its pod-template-hash."""
    return {
        rs["metadata"]["name"]: rs["metadata"]["labels"][TEMPLATE_HASH]
        for rs in cluster.list("apps/v1", "ReplicaSet")
    }


def _rolled_out(cluster: Cluster, deployments: list[Manifest]) -> bool:
    for obj in deployments:
        live = _live(cluster, obj)
        status = (live or {}).get("status") or {}
        if live is None or status.get("readyReplicas") != live["spec"]["replicas"]:
            return False
    return True


async def test_children_of_an_earlier_version_are_taken_over_without_restarting_pods(
    cluster: Cluster,
) -> None:
    await cluster.create(model_service("qwen", **FULL_SPEC))
    desired = _desired(cluster, "qwen")
    # Earlier versions: a create request for each child, under the User-Agent's manager.
    async with Client(cluster.direct_config(user_agent=USER_AGENT)) as old:
        mapper = RestMapper(old)
        await mapper.refresh({o["apiVersion"] for o in desired})
        for obj in desired:
            await old.create(mapper.resource(obj["apiVersion"], obj["kind"]), _legacy(obj))
    deployments = [o for o in desired if o["kind"] == "Deployment"]
    await wait_for(lambda: _rolled_out(cluster, deployments), READY_TIMEOUT, "the old pods ready")
    assert all((FIELD_MANAGER, "Update", "") in _managers(_live(cluster, o) or {}) for o in desired)
    templates = {o["metadata"]["name"]: (_live(cluster, o) or {})["spec"]["template"] for o in deployments}
    replica_sets, pods = _replica_sets(cluster), _pods(cluster)
    assert len(replica_sets) == len(deployments) and len(pods) == 4  # decode, prefill, two EPP

    async with running_reconciler(cluster) as r:
        since = len(cluster.requests)
        await wait_for(lambda: all(_applied(cluster, o) for o in desired), 15, "every child taken over")
        await wait_for(lambda: _ready(cluster, "qwen"), READY_TIMEOUT, "Ready")
        await r.idle()

    for obj in desired:
        live = _live(cluster, obj)
        assert live is not None
        what = apply.describe(obj)
        assert apply.LEGACY_HASH not in (live["metadata"].get("annotations") or {}), what
        assert _shared_fields(live) == {}, f"{what}: the old entry is gone, nobody shares our fields"
        path = _path(cluster, obj)
        mine = [w for w in cluster.requests[since:] if w.method in WRITES and w.path == path]
        applies = [w for w in mine if APPLY_QUERY in w.query]
        takeovers = [w for w in mine if w not in applies]
        # One apply, one patch of managedFields; a patch that met a newer object (a controller
        # wrote the status in between: 409) costs one more (no-op) apply and patch.
        conflicts = [w for w in takeovers if w.status == 409]
        assert [w.status for w in takeovers if w.status != 409] == [200], what
        assert [w.status for w in applies] == [200] * (1 + len(conflicts)), what
    for obj in deployments:
        live = _live(cluster, obj)
        assert live is not None
        assert live["spec"]["template"] == templates[obj["metadata"]["name"]], "the pod template is as it was"
    assert _replica_sets(cluster) == replica_sets, "no new ReplicaSet: no rollout"
    assert _pods(cluster) == pods, "the same pods: none restarted"


# --- replicas and autoscalers ------------------------------------------------------------------------


@asynccontextmanager
async def _applier(cluster: Cluster, *kinds: tuple[str, str]) -> AsyncIterator[Deps]:
    """What ``apply.ensure`` works with, and no reconciler: the test decides what is desired."""
    clock = SystemClock()
    async with Client(cluster.client_config()) as client:
        mapper = RestMapper(client)
        await mapper.refresh({api_version for api_version, _ in kinds})
        cache = Cache(client, clock, lambda key: None, watches.relation, namespaces=(cluster.namespace,))
        for gvk in kinds:
            cache.watch(mapper.resource(*gvk), labels.MANAGED_SELECTOR)
        try:
            async with asyncio.timeout(10):
                await cache.wait_synced()
            events = EventRecorder(client, clock, "test", controller=REPORTING_CONTROLLER)
            yield Deps(client, cache, mapper, SETTINGS, events, clock, ConflictMemo(clock, 60))
        finally:
            await cache.stop()


def _decode_deployment(cluster: Cluster) -> Manifest:
    return next(
        o
        for o in _desired(cluster, "qwen")
        if (o["kind"], o["metadata"]["name"]) == ("Deployment", "qwen-decode")
    )


async def _ensure(deps: Deps, desired: Manifest, owner: Manifest) -> ReconcileState:
    state = ReconcileState(
        owner["metadata"]["name"], owner["metadata"]["namespace"], owner["metadata"]["uid"]
    )
    await apply.ensure(desired, deps, state)
    return state


def _cached(deps: Deps, obj: Manifest) -> Manifest | None:
    return deps.cache.get(
        (obj["apiVersion"], obj["kind"]), obj["metadata"]["namespace"], obj["metadata"]["name"]
    )


def _owned_by(live: Manifest, manager: str) -> Any:
    entry = next((e for e in live["metadata"]["managedFields"] if e["manager"] == manager), None)
    return None if entry is None else entry["fieldsV1"]


async def test_replicas_left_to_an_autoscaler_are_handed_over_not_reset(cluster: Cluster) -> None:
    owner = await cluster.create(model_service("qwen"))
    decode = _decode_deployment(cluster)
    decode["spec"]["replicas"] = 2
    autoscaled = copy.deepcopy(decode)
    del autoscaled["spec"]["replicas"]
    async with _applier(cluster, ("apps/v1", "Deployment")) as deps:
        assert (await _ensure(deps, decode, owner)).created == [apply.describe(decode)]
        await wait_for(lambda: _cached(deps, decode), message="the Deployment cached")

        # Autoscaling on: replicas are released, at their value, through the handover manager.
        assert (await _ensure(deps, autoscaled, owner)).updated
        live = _live(cluster, decode)
        assert live is not None and live["spec"]["replicas"] == 2, "not reset to the default of 1"
        assert not managedfields.owns(_owned_by(live, FIELD_MANAGER), "spec", "replicas")
        assert managedfields.owns(_owned_by(live, apply.HANDOVER_MANAGER), "spec", "replicas")
        await wait_for(lambda: not FIELDS.differs(autoscaled, _cached(deps, decode) or {}), message="cached")
        since = len(cluster.requests)
        assert (await _ensure(deps, autoscaled, owner)).updated == []
        assert cluster.requests[since:] == [], "nothing to apply"

        # The autoscaler scales through the scale subresource, as the HPA controller does.
        async with Client(cluster.direct_config(user_agent="autoscaler")) as autoscaler:
            scale = {"spec": {"replicas": 3}}
            await autoscaler.patch(DEPLOYMENTS, "qwen-decode", scale, cluster.namespace, subresource="scale")
        await wait_for(lambda: (_cached(deps, decode) or {})["spec"]["replicas"] == 3, message="scaled")
        since = len(cluster.requests)
        assert (await _ensure(deps, autoscaled, owner)).updated == []
        assert cluster.requests[since:] == [], "only replicas differ, and they are not ours"
        live = _live(cluster, decode)
        assert live is not None and live["spec"]["replicas"] == 3
        assert _owned_by(live, apply.HANDOVER_MANAGER) is None, "the handover entry ended with the scale"

        # Autoscaling off: replicas are ours again.
        assert (await _ensure(deps, decode, owner)).updated
        live = _live(cluster, decode)
        assert live is not None and live["spec"]["replicas"] == 2
        assert managedfields.owns(_owned_by(live, FIELD_MANAGER), "spec", "replicas")


async def test_an_autoscaler_child_takes_the_same_path(cluster: Cluster) -> None:
    owner = await cluster.create(model_service("qwen"))
    decode = _decode_deployment(cluster)
    hpa: Manifest = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": copy.deepcopy(decode["metadata"]),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "qwen-decode"},
            "minReplicas": 1,
            "maxReplicas": 3,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
                }
            ],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}},
        },
    }
    async with _applier(cluster, ("autoscaling/v2", "HorizontalPodAutoscaler")) as deps:
        assert (await _ensure(deps, hpa, owner)).created
        live = await wait_for(lambda: _cached(deps, hpa), message="the HPA cached")
        assert live["spec"]["behavior"] != hpa["spec"]["behavior"], "the API server added defaults"
        since = len(cluster.requests)
        assert (await _ensure(deps, hpa, owner)).updated == []
        assert cluster.requests[since:] == [], "defaults are no difference"
        hpa["spec"]["maxReplicas"] = 4
        assert (await _ensure(deps, hpa, owner)).updated
        assert (_live(cluster, hpa) or {})["spec"]["maxReplicas"] == 4
