"""The reconciler's RBAC against what it really asks: every request allowed, every permission needed.

A reconciler runs in-process (leader election on, its Lease in the operator namespace) against a
local API server that records every request it receives. The scenario walks every code path that
talks to the API: a ModelService with every child kind (creates), a second one whose children
already exist as foreign objects (the reads after AlreadyExists), every child hand-edited
(updates), stray children left behind (prunes), one child hand-deleted twice (re-creates, and an
Event series patch), prefill and monitoring dropped (deletes), the ModelService deleted (finalizer
cleanup). Each request becomes the question the RBAC authorizer is asked, derived from method,
path and query as the API server's request-info resolver derives it.

Besides the requests, the API server authorizes on the reconciler's behalf: writing the EPP's Role,
ClusterRole and bindings needs every permission they grant (escalation prevention), and a child
whose owner reference has `blockOwnerDeletion` needs `update` on the owner's `finalizers`
(the OwnerReferencesPermissionEnforcement admission plugin). Those checks must pass too, and they
are the only reason a ClusterRole permission may go unrequested.
"""

from __future__ import annotations

import asyncio
import copy
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qs

import pytest

from localcluster.cluster import LocalCluster
from reconciler import apply, config
from reconciler.clock import SystemClock
from reconciler.discovery import RestMapper
from reconciler.errors import Conflict
from reconciler.kube import USER_AGENT, Client, ClientConfig, Resource
from reconciler.leader import LEASES, LeaseConfig
from reconciler.manager import OWNED_KINDS, Manager, ManagerOptions
from shared import api
from shared.api import ModelService
from shared.builders import build_all
from shared.settings import OperatorSettings
from tests.manifests import layout, rbac_rules
from tests.manifests.layout import Manifest
from tests.manifests.rbac_rules import Request
from tests.reconciler.harness import MODELSERVICES, NAMESPACE, condition, get, model_service, prepared_cluster
from tests.reconciler.harness import wait_for as wait

CLUSTER_ROLE = rbac_rules.load_rules("ClusterRole", layout.RECONCILER_CLUSTER_ROLE)
LEADER_ELECTION = rbac_rules.load_rules("Role", layout.LEADER_ELECTION_ROLE)
# Discovery documents are non-resource URLs every authenticated user may read: Kubernetes' default
# `system:discovery` ClusterRole (bound to system:authenticated) grants exactly these, which is
# why the operator's manifests do not.
DISCOVERY_URLS = ["/api", "/api/*", "/apis", "/apis/*", "/openapi", "/openapi/*", "/version", "/version/"]
SYSTEM_DISCOVERY: list[Manifest] = [{"nonResourceURLs": DISCOVERY_URLS, "verbs": ["get"]}]

# ClusterRole permissions the reconciler never requests itself. Each is held because the API
# server checks it when the reconciler writes something; the test also checks that the scenario
# triggered such a check for every entry, so a permission nothing needs any more shows up here.
HELD_FOR_API_SERVER_CHECKS = sorted(
    [
        # OwnerReferencesPermissionEnforcement: every namespaced child blocks its owner's deletion.
        "update model.otterscale.io/modelservices/finalizers",
        # Escalation prevention, EPP Role: the serving pods and the experimental inference objects,
        "get core/pods",
        "list core/pods",
        "watch core/pods",
        *(
            f"{verb} inference.networking.x-k8s.io/{resource}"
            for verb in ("get", "list", "watch")
            for resource in ("inferencemodelrewrites", "inferenceobjectives")
        ),
        # ... and above one EPP replica its leader election (the verbs the reconciler's own
        # election does not use) and the Events announcing it (the reconciler writes events.k8s.io).
        *(f"{verb} coordination.k8s.io/leases" for verb in ("list", "watch", "patch", "delete")),
        "create core/events",
        "patch core/events",
        # Escalation prevention, EPP ClusterRole: metrics endpoint authentication and authorization.
        "create authentication.k8s.io/tokenreviews",
        "create authorization.k8s.io/subjectaccessreviews",
        "get /metrics",
    ]
)

# Every child kind, and the settings' defaults add the rest: provider istio (DestinationRule) and
# metrics auth (Secret, ClusterRole/Binding). Three EPP replicas make the EPP Role grant leader
# election, so the escalation checks cover the Lease and core Event rules.
FULL_SPEC: Manifest = {
    "prefill": {"replicas": 1},
    "routingProxy": {},
    "inferencePool": {"endpointPicker": {"replicas": 3}},
    "httpRoute": {"gatewayRef": {"name": "gw", "namespace": "gateways"}},
    "monitoring": {"podMonitor": {"enabled": True}},
}
SETTINGS = OperatorSettings()
TIMING = {"lease_duration": 2.0, "renew_deadline": 1.0, "retry_period": 0.2}
LEASE = LeaseConfig(config.LEASE_NAME, layout.NAMESPACE, "rbac-coverage", **TIMING)
OPTIONS = ManagerOptions(resync_period=60.0, discovery_period=0.2, watch_timeout=60, leader_election=LEASE)
EVENT_PATCH_INTERVAL = 30.0  # EventRecorder's default: a repeated Event is patched at most this often
EDITED_LABEL = "app.kubernetes.io/part-of"
OWNER_RESOURCES = {("model.otterscale.io", "ModelService"): "modelservices"}


# ----- what the authorizer is asked ---------------------------------------------------------------


@dataclass(frozen=True)
class Asked:
    """One authorization question: a request and the namespace it is made in ("" cluster-wide)."""

    request: Request
    namespace: str = ""

    def __str__(self) -> str:
        return f"{self.request} (namespace {self.namespace})" if self.namespace else str(self.request)


METHOD_VERBS = {
    "POST": "create",
    "GET": "get",
    "HEAD": "get",
    "PUT": "update",
    "PATCH": "patch",
    "DELETE": "delete",
}
NAMESPACE_SUBRESOURCES = ("status", "finalize")
TRUE = ("1", "t", "T", "true", "TRUE", "True")  # what Go's strconv.ParseBool accepts as true


def asked(method: str, path: str, query: str = "") -> Asked:
    """The question for one request, as the API server's request-info resolver derives it.

    `/api/{version}/...` and `/apis/{group}/{version}/...` naming a resource are resource requests;
    anything else (discovery documents included) is a non-resource URL, whose verb is the method.
    """
    parts = [p for p in path.split("/") if p]
    if parts[:1] == ["api"] and len(parts) > 2:
        group, rest = "", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) > 3:
        group, rest = parts[1], parts[3:]
    else:
        return Asked(Request(method.lower(), path=path))
    verb = METHOD_VERBS.get(method, method.lower())
    if rest[0] == "watch":  # the deprecated /watch/ prefix
        verb, rest = "watch", rest[1:]
    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    name, resource = (rest[1] if len(rest) > 1 else ""), "/".join(rest[:1] + rest[2:3])
    params = parse_qs(query)
    if verb == "get" and not name:
        verb = "watch" if params.get("watch", [""])[-1] in TRUE else "list"
        name = _field_selected_name(params)
    if verb == "delete" and not name:
        verb = "deletecollection"
    return Asked(Request(verb, group, resource, name), namespace)


def _field_selected_name(params: dict[str, list[str]]) -> str:
    """A list or watch selecting `metadata.name=x` is authorized as a request for `x`."""
    for term in ",".join(params.get("fieldSelector", [])).split(","):
        key, equals, value = term.partition("=")
        if key == "metadata.name" and equals:
            return value.removeprefix("=")
    return ""


def allowed(question: Asked) -> bool:
    """The ClusterRole (cluster-wide), the leader-election Role (its namespace), or discovery."""
    request = question.request
    return (
        rbac_rules.allows(CLUSTER_ROLE, request)
        or (question.namespace == layout.NAMESPACE and rbac_rules.allows(LEADER_ELECTION, request))
        or (bool(request.path) and rbac_rules.allows(SYSTEM_DISCOVERY, request))
    )


def checks_on_behalf(written: list[Manifest]) -> Iterator[Asked]:
    """What the API server authorizes for the reconciler when it writes these objects."""
    roles = {(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]): o for o in written}
    for obj in written:
        namespace = obj["metadata"].get("namespace", "")
        for ref in obj["metadata"].get("ownerReferences") or []:
            if ref.get("blockOwnerDeletion"):
                group = ref["apiVersion"].rpartition("/")[0]
                resource = OWNER_RESOURCES[(group, ref["kind"])] + "/finalizers"
                yield Asked(Request("update", group, resource, ref["name"]), namespace)
        for rule in _granted_rules(obj, roles):
            yield from (Asked(r, namespace) for r in rbac_rules.requests_of(rule))


def _granted_rules(obj: Manifest, roles: dict[tuple[str, str, str], Manifest]) -> list[Manifest]:
    """A role's rules; for a binding (no `bind` verb held), the rules of the role it binds."""
    if obj["kind"] in ("Role", "ClusterRole"):
        return list(obj.get("rules") or [])
    if obj["kind"] not in ("RoleBinding", "ClusterRoleBinding"):
        return []
    ref = obj["roleRef"]
    namespace = obj["metadata"].get("namespace", "") if ref["kind"] == "Role" else ""
    role = roles.get((ref["kind"], namespace, ref["name"]))
    assert role is not None, f"{apply.describe(obj)} binds {ref['kind']} {ref['name']}, not written here"
    return list(role.get("rules") or [])


def unused_permissions(questions: Iterable[Asked]) -> list[str]:
    """The ClusterRole's single permissions (verb on group/resource, or URL) no question used."""
    used = {_permission(q.request) for q in questions}
    return sorted(
        {str(p) for rule in CLUSTER_ROLE for p in rbac_rules.requests_of(rule) if _permission(p) not in used}
    )


def _permission(request: Request) -> tuple[str, str, str, str]:
    return request.verb, request.group, request.resource, request.path


def listing(questions: Iterable[Asked]) -> str:
    counts = Counter(str(q) for q in questions)
    return "\n".join(f"  {text}  (x{n})" for text, n in sorted(counts.items()))


# The API server's own request-info tests use requests like these (`METHOD path?query` → question).
REQUEST_INFO_CASES = {
    "list": ("GET /api/v1/namespaces/n/configmaps?labelSelector=a%3Db", "list core/configmaps (namespace n)"),
    "watch": ("GET /apis/apps/v1/deployments?watch=1&allowWatchBookmarks=true", "watch apps/deployments"),
    "watch-old-prefix": (
        "GET /apis/apps/v1/watch/namespaces/n/deployments",
        "watch apps/deployments (namespace n)",
    ),
    "list-of-one-by-field": ("GET /api/v1/pods?fieldSelector=metadata.name%3Dp", "list core/pods p"),
    "get": ("GET /apis/g/v1/namespaces/n/leases/l", "get g/leases l (namespace n)"),
    "patch-subresource": (
        "PATCH /apis/g/v1/namespaces/n/things/a/status",
        "patch g/things/status a (namespace n)",
    ),
    "create-has-no-name": ("POST /apis/g/v1/namespaces/n/events", "create g/events (namespace n)"),
    "update-cluster-scoped": ("PUT /apis/g/v1/clusterroles/r", "update g/clusterroles r"),
    "delete-all": ("DELETE /api/v1/namespaces/n/secrets", "deletecollection core/secrets (namespace n)"),
    "namespace-in-itself": ("GET /api/v1/namespaces/n", "get core/namespaces n (namespace n)"),
    "namespace-finalize": (
        "PUT /api/v1/namespaces/n/finalize",
        "update core/namespaces/finalize n (namespace n)",
    ),
    "group-discovery": ("GET /apis/apps/v1", "get /apis/apps/v1"),
    "legacy-discovery": ("GET /api", "get /api"),
    "version": ("GET /version", "get /version"),
}


@pytest.mark.parametrize(("line", "expected"), REQUEST_INFO_CASES.values(), ids=REQUEST_INFO_CASES.keys())
def test_requests_map_to_the_questions_the_authorizer_is_asked(line: str, expected: str) -> None:
    method, _, target = line.partition(" ")
    path, _, query = target.partition("?")
    assert str(asked(method, path, query)) == expected


# ----- the scenario -------------------------------------------------------------------------------


class SteppingClock(SystemClock):
    """The real clock, moved forward on demand: half a minute passes without waiting for it."""

    def __init__(self) -> None:
        self.offset = 0.0

    def monotonic(self) -> float:
        return super().monotonic() + self.offset

    def now(self) -> datetime:
        return super().now() + timedelta(seconds=self.offset)


@dataclass
class World:
    """The cluster as the test sees it; `kube` has its own User-Agent, so its requests are not counted."""

    cluster: LocalCluster
    kube: Client
    mapper: RestMapper

    def live(self, obj: Manifest) -> Manifest | None:
        meta = obj["metadata"]
        return self.cluster.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace", ""))

    def desired(self, name: str) -> list[Manifest]:
        """The children the builders want for the stored ModelService `name`."""
        stored = get(self.cluster, "ModelService", name)
        assert stored is not None, f"ModelService {name} is not stored"
        return list(build_all(ModelService.from_manifest(stored), SETTINGS).objects)

    def resource(self, obj: Manifest) -> Resource:
        return self.mapper.resource(obj["apiVersion"], obj["kind"])

    async def until(self, objs: list[Manifest], present: bool, what: str) -> None:
        await wait(lambda: all((self.live(o) is not None) == present for o in objs), 10, what)

    async def edit(self, obj: Manifest, change: Callable[[Manifest], None]) -> None:
        for _ in range(10):
            current = copy.deepcopy(self.live(obj))
            assert current is not None, f"{apply.describe(obj)} is missing"
            change(current)
            try:
                await self.kube.replace(self.resource(obj), current)
                return
            except Conflict:
                continue  # written in between (the reconciler or a controller): edit the newer one
        raise AssertionError(f"could not edit {apply.describe(obj)}: a conflict every time")

    def recreated(self, obj: Manifest, old_uid: str) -> bool:
        now = self.live(obj)
        return now is not None and now["metadata"]["uid"] != old_uid

    def lease_renewed(self) -> bool:
        lease = self.cluster.get(LEASES.api_version, LEASES.kind, LEASE.name, LEASE.namespace)
        spec = (lease or {}).get("spec") or {}
        return bool(spec.get("renewTime")) and spec.get("renewTime") != spec.get("acquireTime")

    def events_noted(self, note: str) -> list[Manifest]:
        return [e for e in self.cluster.list("events.k8s.io/v1", "Event", NAMESPACE) if e.get("note") == note]


@asynccontextmanager
async def running(cluster: LocalCluster, clock: SteppingClock) -> AsyncIterator[Manager]:
    """A reconciler with the production User-Agent, leading, caches synced; stopped gracefully."""
    async with Client(ClientConfig(host=cluster.url, qps=1000, burst=1000)) as client:
        manager = Manager(client, SETTINGS, OPTIONS, clock=clock)
        task = asyncio.create_task(manager.run(), name="reconciler under test")
        try:
            await wait(lambda: task.done() or (manager.synced and manager.leading), 10, "sync and leadership")
            assert not task.done(), f"the reconciler stopped early: {task}"
            yield manager
        finally:
            manager.stop()
            try:
                async with asyncio.timeout(10):
                    await asyncio.gather(task, return_exceptions=True)
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)


def foreign(obj: Manifest) -> Manifest:
    """`obj` as someone else's: no owner reference, none of the operator's labels."""
    out = copy.deepcopy(obj)
    out["metadata"].pop("ownerReferences", None)
    out["metadata"]["labels"] = {"app.kubernetes.io/managed-by": "someone-else"}
    return out


def stray(obj: Manifest) -> Manifest:
    """A copy of a desired child under another name: owned by the ModelService, not desired."""
    out = copy.deepcopy(obj)
    out["metadata"]["name"] += "-stray"
    return out


async def create_with_every_child(world: World) -> tuple[list[Manifest], list[Manifest]]:
    """The children as built and as the reconciler wrote them."""
    await world.cluster.create(model_service("qwen", **FULL_SPEC))
    desired = world.desired("qwen")
    assert {o["kind"] for o in desired} == {kind for _, kind in OWNED_KINDS}, "not every child kind is built"
    await world.until(desired, True, "every child created")
    written = [world.live(o) for o in desired]
    return desired, [o for o in written if o is not None]


async def collide_with_foreign_objects(world: World) -> None:
    """Every child name already taken: each create meets AlreadyExists and reads the object."""
    wanted = model_service("clash", **FULL_SPEC)
    ms = ModelService.from_manifest({**wanted, "metadata": {**wanted["metadata"], "uid": "not-created-yet"}})
    taken = build_all(ms, SETTINGS).objects
    for obj in taken:
        await world.cluster.create(foreign(obj))
    await world.cluster.create(wanted)

    def conflicts() -> int:
        ready = condition(get(world.cluster, "ModelService", "clash"), "NameConflict")
        return str(ready.get("message", "")).count(" is controlled by ")

    await wait(lambda: conflicts() == len(taken), 10, "a name conflict for every child")
    await world.kube.delete(MODELSERVICES, "clash", NAMESPACE)
    await wait(lambda: get(world.cluster, "ModelService", "clash") is None, 10, "the clash deleted")


async def hand_edit_every_child(world: World, desired: list[Manifest]) -> None:
    def edit(obj: Manifest) -> None:
        obj["metadata"]["labels"][EDITED_LABEL] = "hand-edited"

    for obj in desired:
        await world.edit(obj, edit)

    def restored() -> bool:
        found = [((world.live(o) or {}).get("metadata") or {}).get("labels") or {} for o in desired]
        return [f.get(EDITED_LABEL) for f in found] == [
            o["metadata"]["labels"][EDITED_LABEL] for o in desired
        ]

    await wait(restored, 10, "every hand edit undone")


async def leave_strays(world: World, desired: list[Manifest]) -> None:
    strays = [stray(o) for o in desired]
    for obj in strays:
        await world.cluster.create(obj)
    await world.until(strays, False, "every stray pruned")


async def hand_delete_twice(world: World, clock: SteppingClock, obj: Manifest) -> None:
    """The same re-create twice, half a minute apart: the second Event is a series patch."""
    note = f"Created {apply.describe(obj)}"
    for count in (1, 2):
        before = world.live(obj)
        assert before is not None
        uid = before["metadata"]["uid"]
        await world.kube.delete(world.resource(obj), obj["metadata"]["name"], obj["metadata"]["namespace"])
        await wait(lambda: world.recreated(obj, uid), 10, f"re-created ({count})")  # noqa: B023 (awaited here)
        # The Event must exist before the clock jumps, or the jump would count as its start.
        await wait(lambda: world.events_noted(note), 10, f"an Event saying {note}")
        clock.offset += EVENT_PATCH_INTERVAL + 1

    def series() -> int:
        [event] = world.events_noted(note)
        return int((event.get("series") or {}).get("count") or 1)

    await wait(lambda: series() == 2, 10, "the repeated Event patched onto the first")


async def drop_prefill_and_monitoring(world: World) -> None:
    before = world.desired("qwen")
    spec = {"prefill": None, "monitoring": {"podMonitor": {"enabled": False}}}
    await world.kube.patch(MODELSERVICES, "qwen", {"spec": spec}, NAMESPACE)
    after = {apply.describe(o) for o in world.desired("qwen")}
    dropped = [o for o in before if apply.describe(o) not in after]
    assert {o["kind"] for o in dropped} == {"Deployment", "PodMonitor", "ServiceMonitor"}
    await world.until(dropped, False, "the prefill and monitoring children deleted")


async def delete_model_service(world: World, written: list[Manifest]) -> None:
    await world.kube.delete(MODELSERVICES, "qwen", NAMESPACE)
    await wait(lambda: get(world.cluster, "ModelService", "qwen") is None, 10, "the finalizer released")
    cluster_scoped = [o for o in written if not o["metadata"].get("namespace")]
    assert {o["kind"] for o in cluster_scoped} == {"ClusterRole", "ClusterRoleBinding"}
    await world.until(cluster_scoped, False, "the cluster-scoped children deleted")


async def run_scenario(cluster: LocalCluster) -> list[Manifest]:
    """Every API-facing code path of the reconciler once; the children it wrote, for the checks
    the API server makes on its behalf."""
    clock = SteppingClock()
    test_client = ClientConfig(host=cluster.url, user_agent="rbac-coverage-test", qps=1000, burst=1000)
    async with Client(test_client) as kube:
        mapper = RestMapper(kube)
        await mapper.refresh([api.API_VERSION, *(gvk[0] for gvk in OWNED_KINDS)])
        world = World(cluster, kube, mapper)
        async with running(cluster, clock):
            desired, written = await create_with_every_child(world)
            await collide_with_foreign_objects(world)
            await hand_edit_every_child(world, desired)
            await leave_strays(world, desired)
            await hand_delete_twice(world, clock, next(o for o in desired if o["kind"] == "Service"))
            await drop_prefill_and_monitoring(world)
            await delete_model_service(world, written)
            await wait(world.lease_renewed, 10, "a Lease renewal")
        lease = await kube.get(LEASES, LEASE.name, LEASE.namespace)
    assert lease["spec"]["holderIdentity"] == "", "a graceful stop releases the Lease"
    return written


async def test_the_reconciler_is_allowed_every_request_and_needs_every_permission(
    local_cluster_factory: Callable[..., Awaitable[LocalCluster]],
) -> None:
    cluster = await local_cluster_factory(
        controllers=True, third_party=True, deployment_delay=0.05, bookmark_interval=0.5, record_requests=True
    )
    await prepared_cluster(cluster)
    await cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": layout.NAMESPACE}})
    written = await run_scenario(cluster)
    assert cluster.requests is not None
    requests = [asked(r.method, r.path, r.query) for r in cluster.requests if r.user_agent == USER_AGENT]
    on_behalf = list(checks_on_behalf(written))

    denied = [q for q in requests if not allowed(q)]
    assert not denied, f"the reconciler made requests its RBAC does not allow:\n{listing(denied)}"
    denied = [q for q in on_behalf if not allowed(q)]
    assert not denied, f"the API server would refuse the reconciler's writes, lacking:\n{listing(denied)}"
    leases = {(q.request.verb, q.namespace) for q in requests if q.request.resource == "leases"}
    assert leases == {(verb, layout.NAMESPACE) for verb in ("get", "create", "update")}
    # The leader-election Role exists so that leader election never depends on the ClusterRole.
    denied = [
        q
        for q in requests
        if q.namespace == layout.NAMESPACE and not rbac_rules.allows(LEADER_ELECTION, q.request)
    ]
    assert not denied, f"the leader-election Role alone does not allow:\n{listing(denied)}"
    assert unused_permissions(requests) == HELD_FOR_API_SERVER_CHECKS, (
        "ClusterRole permissions the reconciler no longer requests (drop them) or newly requests only "
        "through the API server's checks (list them in HELD_FOR_API_SERVER_CHECKS)"
    )
    assert unused_permissions([*requests, *on_behalf]) == [], "held for API server checks nothing triggered"
