"""The reconciler's real RBAC, judged by the real API server: every request allowed, every permission needed.

The operator's access control is installed from manifests/ on a real control plane (RBAC and Node
authorizers, escalation prevention on every Role and binding write). A reconciler runs in-process
with a bound token of its own ServiceAccount (leader election on, its Lease in the operator
namespace), through a proxy that records every request and the status it was answered with. The
scenario walks every code path that talks to the API: a ModelService with every child kind
(server-side applies that create), a second one whose children already exist as foreign objects
(the reads after a create-only apply met them), every child hand-edited (applies that change),
stray children left behind (prunes), one child hand-deleted twice (re-creates, and an Event series
patch), prefill and monitoring dropped (deletes), the ModelService deleted (finalizer cleanup).
The API server's authorizer judged each request: none may have been refused.

Besides the requests, the API server authorizes on the reconciler's behalf: writing the EPP's Role,
ClusterRole and bindings needs every permission they grant (escalation prevention, which the
server applied to those writes), and a child whose owner reference has `blockOwnerDeletion` needs
`update` on the owner's `finalizers` (the OwnerReferencesPermissionEnforcement admission plugin,
which the test control plane runs as hardened clusters do; its question is also put to the same
authorizer with a SelfSubjectAccessReview, so the analysis does not depend on the plugin). Those
checks are the only reason a ClusterRole permission may go unrequested: each request is turned
into the question the authorizer was asked (method, path and query, as the server's request-info
resolver derives them), and every ClusterRole permission must be among them or among the checks
made on the reconciler's behalf.

A test that cannot fail proves nothing: the same ClusterRole without one rule, bound to another
ServiceAccount, gets exactly the request that needs the rule refused.
"""

from __future__ import annotations

import asyncio
import copy
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from urllib.parse import parse_qs

import pytest

from reconciler import apply, config
from reconciler.apply import USER_AGENT
from reconciler.manager import OWNED_KINDS, Manager, ManagerOptions
from reconciler.runtime.client import Client, ClientConfig, Resource
from reconciler.runtime.clock import SystemClock
from reconciler.runtime.discovery import RestMapper
from reconciler.runtime.errors import Conflict
from reconciler.runtime.leader import LEASES, LeaseConfig
from shared import api
from shared.api import ModelService
from shared.builders import build_all
from shared.settings import OperatorSettings
from testbed import ControlPlane
from testbed.controlplane import ApiError
from testbed.faults import RequestRecord
from tests.manifests import layout, rbac_install, rbac_rules
from tests.manifests.layout import Manifest
from tests.manifests.rbac_install import RECONCILER_SERVICE_ACCOUNT
from tests.manifests.rbac_rules import Request
from tests.reconciler.harness import MODELSERVICES, condition, get, model_service
from tests.reconciler.harness import wait_for as wait
from tests.support.cluster import Cluster, proxy_for

CLUSTER_ROLE = rbac_rules.load_rules("ClusterRole", layout.RECONCILER_CLUSTER_ROLE)

# ClusterRole permissions the reconciler never requests itself. Each is held because the API
# server checks it when the reconciler writes something; the test also checks that the scenario
# triggered such a check for every entry, so a permission nothing needs any more shows up here.
HELD_FOR_API_SERVER_CHECKS = sorted(
    [
        # OwnerReferencesPermissionEnforcement: every namespaced child blocks its owner's deletion.
        "update model.otterscale.io/modelservices/finalizers",
        # Escalation prevention, EPP Role: reading single serving pods (the reconciler itself only
        # lists and watches them) and the experimental inference objects,
        "get core/pods",
        *(
            f"{verb} inference.networking.x-k8s.io/{resource}"
            for verb in ("get", "list", "watch")
            for resource in ("inferencemodelrewrites", "inferenceobjectives")
        ),
        # (the llm-d router's EPP reads the llm-d.ai group instead; held for --epp-generation
        # llm-d-router, which this scenario does not run: tests/manifests/test_rbac.py checks
        # that the ClusterRole covers what that EPP Role grants)
        *(
            f"{verb} llm-d.ai/{resource}"
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

HELD_FOR_OTHER_SETTINGS = [p for p in HELD_FOR_API_SERVER_CHECKS if " llm-d.ai/" in p]

# Every child kind, and the settings' defaults add the rest: provider istio (DestinationRule) and
# metrics auth (Secret, ClusterRole/Binding). Three EPP replicas make the EPP Role grant leader
# election, so the escalation checks cover the Lease and core Event rules.
FULL_SPEC: Manifest = {
    # Decode autoscaled by an HPA, prefill by KEDA: both autoscaler kinds are children.
    "decode": {"autoscaling": {"maxReplicas": 2, "requestsWaiting": 5}},
    "prefill": {
        "autoscaling": {
            "engine": "keda",
            "maxReplicas": 2,
            "requestsWaiting": 5,
            "prometheusAddress": "http://prometheus.monitoring.svc:9090",
        }
    },
    "routingProxy": {},
    "inferencePool": {"endpointPicker": {"replicas": 3}},
    "httpRoute": {"gatewayRef": {"name": "gw", "namespace": "gateways"}},
    "monitoring": {"podMonitor": {"enabled": True}},
}
SETTINGS = OperatorSettings()
# Renewals every 0.2 s show a renewal quickly; the deadline leaves room for a busy API server.
TIMING = {"lease_duration": 15.0, "renew_deadline": 10.0, "retry_period": 0.2}
LEASE = LeaseConfig(config.LEASE_NAME, layout.NAMESPACE, "rbac-coverage", **TIMING)
# The proxy records a request once its answer has ended; the API server ends each watch after this
# long, so every watch is recorded soon after it started (the reconciler then watches again).
WATCH_SECONDS = 5
OPTIONS = ManagerOptions(
    resync_period=60.0, discovery_period=0.2, watch_timeout=WATCH_SECONDS, leader_election=LEASE
)
EVENT_PATCH_INTERVAL = 30.0  # EventRecorder's default: a repeated Event is patched at most this often
EDITED_LABEL = "app.kubernetes.io/part-of"
OWNER_RESOURCES = {("model.otterscale.io", "ModelService"): "modelservices"}
TEST_AGENT = "rbac-coverage-test"
STEP = 20.0  # bound of each scenario step: the reconciler acts in well under a second when idle
REFUSED = (401, 403)
MERGE_PATCH = "application/merge-patch+json"


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


def of_record(record: RequestRecord) -> Asked:
    return asked(record.method, record.path, record.query)


def questions_of(record: RequestRecord) -> list[Asked]:
    """What the authorizer is asked for one request: its question, and for a server-side apply
    that created its object (a PATCH answered 201 Created) also create, which the API server
    checks before it creates."""
    question = of_record(record)
    if record.method == "PATCH" and record.status == 201:
        return [question, Asked(replace(question.request, verb="create"), question.namespace)]
    return [question]


async def allowed(client: Client, question: Asked) -> bool:
    """The API server's authorizer's verdict on `question` for `client`'s user."""
    return await rbac_install.reviewed(client, question.request, question.namespace)


async def refused_by_the_server(client: Client, questions: Iterable[Asked]) -> list[Asked]:
    return [q for q in sorted(set(questions), key=str) if not await allowed(client, q)]


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


@pytest.mark.parametrize(("status", "expected"), [(201, ["patch", "create"]), (200, ["patch"])])
def test_an_apply_that_creates_is_also_asked_for_create(status: int, expected: list[str]) -> None:
    path = "/apis/apps/v1/namespaces/n/deployments/d"
    record = RequestRecord("PATCH", path, "fieldManager=m&force=true", USER_AGENT, status)
    questions = questions_of(record)
    assert [q.request.verb for q in questions] == expected
    assert {(q.request.resource, q.request.name, q.namespace) for q in questions} == {
        ("deployments", "d", "n")
    }


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
    """The cluster as the test sees it: reads and `kube` as the administrator, straight to the API
    server, so none of the test's own requests is among the reconciler's."""

    cluster: Cluster
    kube: Client
    mapper: RestMapper

    @property
    def namespace(self) -> str:
        return self.cluster.namespace

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
        await wait(lambda: all((self.live(o) is not None) == present for o in objs), STEP, what)

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
        return [e for e in self.cluster.list("events.k8s.io/v1", "Event") if e.get("note") == note]


@asynccontextmanager
async def running(
    reconciler: ClientConfig, options: ManagerOptions, clock: SystemClock, *, synced: bool = True
) -> AsyncIterator[Manager]:
    """A reconciler with the production User-Agent, leading, caches synced (unless `synced` is
    False: a reconciler refused a list never gets there); stopped gracefully."""
    async with Client(reconciler) as client:
        manager = Manager(client, SETTINGS, options, clock=clock)
        task = asyncio.create_task(manager.run(), name="reconciler under test")
        try:
            await wait(
                lambda: task.done() or not synced or (manager.synced and manager.leading),
                STEP,
                "sync and leadership",
            )
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
    wanted = model_service("clash", world.namespace, **FULL_SPEC)
    ms = ModelService.from_manifest({**wanted, "metadata": {**wanted["metadata"], "uid": "not-created-yet"}})
    taken = build_all(ms, SETTINGS).objects
    for obj in taken:
        await world.cluster.create(foreign(obj))
    await world.cluster.create(wanted)

    def conflicts() -> int:
        ready = condition(get(world.cluster, "ModelService", "clash"), "NameConflict")
        return str(ready.get("message", "")).count(" is controlled by ")

    await wait(lambda: conflicts() == len(taken), STEP, "a name conflict for every child")
    await world.kube.delete(MODELSERVICES, "clash", world.namespace)
    await wait(lambda: get(world.cluster, "ModelService", "clash") is None, STEP, "the clash deleted")


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

    await wait(restored, STEP, "every hand edit undone")


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
        await wait(lambda: world.recreated(obj, uid), STEP, f"re-created ({count})")  # noqa: B023 (awaited here)
        # The Event must exist before the clock jumps, or the jump would count as its start.
        await wait(lambda: world.events_noted(note), STEP, f"an Event saying {note}")
        clock.offset += EVENT_PATCH_INTERVAL + 1

    def series() -> int:
        [event] = world.events_noted(note)
        return int((event.get("series") or {}).get("count") or 1)

    await wait(lambda: series() == 2, STEP, "the repeated Event patched onto the first")


async def drop_prefill_and_monitoring(world: World) -> None:
    before = world.desired("qwen")
    spec = {"prefill": None, "monitoring": {"podMonitor": {"enabled": False}}}
    await world.kube.patch(MODELSERVICES, "qwen", {"spec": spec}, world.namespace)
    after = {apply.describe(o) for o in world.desired("qwen")}
    dropped = [o for o in before if apply.describe(o) not in after]
    assert {o["kind"] for o in dropped} == {"Deployment", "PodMonitor", "ServiceMonitor", "ScaledObject"}
    await world.until(dropped, False, "the prefill and monitoring children deleted")


async def delete_model_service(world: World, written: list[Manifest]) -> None:
    await world.kube.delete(MODELSERVICES, "qwen", world.namespace)
    await wait(lambda: get(world.cluster, "ModelService", "qwen") is None, STEP, "the finalizer released")
    cluster_scoped = [o for o in written if not o["metadata"].get("namespace")]
    assert {o["kind"] for o in cluster_scoped} == {"ClusterRole", "ClusterRoleBinding"}
    await world.until(cluster_scoped, False, "the cluster-scoped children deleted")


async def run_scenario(cluster: Cluster, reconciler: ClientConfig) -> list[Manifest]:
    """Every API-facing code path of the reconciler once; the children it wrote, for the checks
    the API server makes on its behalf."""
    clock = SteppingClock()
    # The deployment watches every namespace; on a control plane other tests share, the reconciler
    # watches only the test's (cluster-scoped children are still watched cluster-wide), and the
    # test asks the authorizer about the same lists and watches across all namespaces.
    options = replace(OPTIONS, namespaces=(cluster.namespace,))
    async with Client(cluster.direct_config(user_agent=TEST_AGENT)) as kube:
        mapper = RestMapper(kube)
        await mapper.refresh([api.API_VERSION, *(gvk[0] for gvk in OWNED_KINDS)])
        world = World(cluster, kube, mapper)
        async with running(reconciler, options, clock):
            desired, written = await create_with_every_child(world)
            await collide_with_foreign_objects(world)
            await hand_edit_every_child(world, desired)
            await leave_strays(world, desired)
            await hand_delete_twice(world, clock, next(o for o in desired if o["kind"] == "Service"))
            await drop_prefill_and_monitoring(world)
            await delete_model_service(world, written)
            await wait(world.lease_renewed, STEP, "a Lease renewal")
        lease = await kube.get(LEASES, LEASE.name, LEASE.namespace)
    assert not lease["spec"].get("holderIdentity"), "a graceful stop releases the Lease"
    return written


# ----- the control plane --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def operator_rbac(installed_crds: ControlPlane) -> list[Manifest]:
    """The operator's access control, installed from manifests/ as the administrator."""
    return rbac_install.install(installed_crds)


@pytest.fixture
def rbac_cluster(installed_crds: ControlPlane) -> Iterator[Cluster]:
    """A namespace of the test's own and a recording proxy; afterwards, what the test left outside
    that namespace (named after it) is deleted, and finalizers no reconciler will release are."""
    cp = installed_crds
    namespace = cp.create_namespace("rbac-")
    try:
        with proxy_for(cp) as proxy:
            yield Cluster(cp, namespace, proxy)
    finally:
        clean_up(cp, namespace)
        cp.delete_namespace(namespace)


def clean_up(cp: ControlPlane, namespace: str) -> None:
    ms_path = f"/apis/{api.API_VERSION}/namespaces/{namespace}/modelservices"
    for ms in cp.api("GET", ms_path)["items"]:
        if ms["metadata"].get("finalizers"):
            patch = {"metadata": {"finalizers": None}}
            cp.api("PATCH", f"{ms_path}/{ms['metadata']['name']}", patch, content_type=MERGE_PATCH)
    rbac = "/apis/rbac.authorization.k8s.io/v1"
    # EPP ClusterRoles and their bindings are named after the namespace; so is what the test adds.
    for collection in ("clusterroles", "clusterrolebindings", f"namespaces/{layout.NAMESPACE}/rolebindings"):
        for obj in cp.api("GET", f"{rbac}/{collection}")["items"]:
            if obj["metadata"]["name"].startswith(f"{namespace}-"):
                try:
                    cp.api("DELETE", f"{rbac}/{collection}/{obj['metadata']['name']}")
                except ApiError as e:
                    if e.code != 404:
                        raise


def delete_lease(cp: ControlPlane) -> None:
    """No Lease left from an earlier run: the election then creates it, as on a fresh install."""
    try:
        cp.api("DELETE", f"/apis/coordination.k8s.io/v1/namespaces/{LEASE.namespace}/leases/{LEASE.name}")
    except ApiError as e:
        if e.code != 404:
            raise


def bearer(cluster: Cluster, token: str, *, direct: bool) -> ClientConfig:
    """A client config with a ServiceAccount's token: through the recording proxy for the
    reconciler (its User-Agent), straight to the API server for the test's questions."""
    header = f"Bearer {token}"  # the header value, as the kubeconfig loader gives it
    if direct:
        return cluster.direct_config(token=lambda: header, user_agent=TEST_AGENT)
    return ClientConfig(host=cluster.url, token=lambda: header, qps=1000, burst=1000, user_agent=USER_AGENT)


async def in_effect(client: Client, request: Request, namespace: str = "") -> None:
    """Until the authorizer's cache has the bindings just written (it follows them by watch)."""
    await wait(lambda: rbac_install.reviewed(client, request, namespace), STEP, f"RBAC to allow {request}")


def reconciler_records(cluster: Cluster) -> list[RequestRecord]:
    return [r for r in cluster.requests if r.user_agent == USER_AGENT]


def every_list_followed_by_a_watch(cluster: Cluster) -> bool:
    """Whether a watch of every collection the reconciler listed has ended (and been recorded)."""
    questions = [of_record(r) for r in reconciler_records(cluster)]

    def collections(verb: str) -> set[tuple[str, str, str]]:
        return {
            (q.request.group, q.request.resource, q.namespace) for q in questions if q.request.verb == verb
        }

    return collections("list") <= collections("watch")


# ----- the tests ----------------------------------------------------------------------------------


async def test_the_real_authorizer_allows_every_request_and_every_permission_is_needed(
    operator_rbac: list[Manifest], rbac_cluster: Cluster
) -> None:
    cluster, cp = rbac_cluster, rbac_cluster.cp
    delete_lease(cp)
    token = rbac_install.token(cp, layout.NAMESPACE, RECONCILER_SERVICE_ACCOUNT)
    async with Client(bearer(cluster, token, direct=True)) as as_reconciler:
        user = rbac_install.service_account_user(layout.NAMESPACE, RECONCILER_SERVICE_ACCOUNT)
        assert await rbac_install.who_am_i(as_reconciler) == user
        await in_effect(as_reconciler, Request("list", api.GROUP, "modelservices"))
        await in_effect(as_reconciler, Request("update", "coordination.k8s.io", "leases"), layout.NAMESPACE)

        written = await run_scenario(cluster, bearer(cluster, token, direct=False))
        await wait(lambda: every_list_followed_by_a_watch(cluster), WATCH_SECONDS + STEP, "watches recorded")

        records = reconciler_records(cluster)
        refused = [f"{r.method} {r.path}?{r.query} -> {r.status}" for r in records if r.status in REFUSED]
        assert not refused, "the API server refused requests of the reconciler:\n" + "\n".join(refused)
        requests = [q for r in records for q in questions_of(r)]
        on_behalf = list(checks_on_behalf(written))
        denied = await refused_by_the_server(as_reconciler, on_behalf)
        assert not denied, f"the API server would refuse the reconciler's writes, lacking:\n{listing(denied)}"
        everywhere = [
            Asked(q.request) for q in requests if q.request.verb in ("list", "watch") and q.namespace
        ]
        denied = await refused_by_the_server(as_reconciler, everywhere)
        assert not denied, f"watching every namespace, as deployed, is refused:\n{listing(denied)}"

    leases = {(q.request.verb, q.namespace) for q in requests if q.request.resource == "leases"}
    assert leases == {(verb, layout.NAMESPACE) for verb in ("get", "create", "update")}
    # The leader-election Role exists so that leader election never depends on the ClusterRole:
    # bound alone to another ServiceAccount, it must allow every request the election made.
    await assert_leader_election_role_alone_allows(
        operator_rbac, cluster, [q for q in requests if q.namespace == layout.NAMESPACE]
    )
    assert unused_permissions(requests) == HELD_FOR_API_SERVER_CHECKS, (
        "ClusterRole permissions the reconciler no longer requests (drop them) or newly requests only "
        "through the API server's checks (list them in HELD_FOR_API_SERVER_CHECKS)"
    )
    assert unused_permissions([*requests, *on_behalf]) == HELD_FOR_OTHER_SETTINGS, (
        "held for API server checks nothing triggered"
    )


async def assert_leader_election_role_alone_allows(
    operator_rbac: list[Manifest], cluster: Cluster, questions: list[Asked]
) -> None:
    cp, account = cluster.cp, "leader-election-only"
    binding = rbac_install.find(operator_rbac, "RoleBinding", layout.LEADER_ELECTION_ROLE)
    binding["metadata"]["name"] = f"{cluster.namespace}-{account}"
    binding["subjects"] = [{"kind": "ServiceAccount", "name": account, "namespace": cluster.namespace}]
    service_account = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": account, "namespace": cluster.namespace},
    }
    rbac_install.install(cp, [service_account, binding])
    async with Client(
        bearer(cluster, rbac_install.token(cp, cluster.namespace, account), direct=True)
    ) as alone:
        await in_effect(alone, Request("get", "coordination.k8s.io", "leases"), layout.NAMESPACE)
        denied = await refused_by_the_server(alone, questions)
        assert not denied, f"the leader-election Role alone does not allow:\n{listing(denied)}"
        # ... and nothing else: the same requests elsewhere are refused.
        elsewhere = [replace(q, namespace=cluster.namespace) for q in questions]
        assert await refused_by_the_server(alone, elsewhere) == sorted(set(elsewhere), key=str)


# One rule dropped from the ClusterRole, and the request the real server must then refuse: the
# serving pods are listed for the status (so the caches never sync, and nothing else is tried);
# the status patch is a request of the reconciler's own.
WITHOUT_ONE_RULE = {
    "pods-read-for-the-status": (Request("list", "", "pods"), "list core/pods", False),
    "modelservices-status": (
        Request("patch", api.GROUP, "modelservices/status"),
        "patch model.otterscale.io/modelservices/status qwen",
        True,
    ),
}


@pytest.mark.parametrize(
    ("needed", "refused", "syncs"), WITHOUT_ONE_RULE.values(), ids=WITHOUT_ONE_RULE.keys()
)
async def test_without_one_rule_the_real_server_refuses_the_request_that_needs_it(
    operator_rbac: list[Manifest], rbac_cluster: Cluster, needed: Request, refused: str, syncs: bool
) -> None:
    cluster, cp, account = rbac_cluster, rbac_cluster.cp, "narrowed-reconciler"
    role = rbac_install.find(operator_rbac, "ClusterRole", layout.RECONCILER_CLUSTER_ROLE)
    kept = [rule for rule in role["rules"] if not rbac_rules.rule_allows(rule, needed)]
    assert len(kept) == len(role["rules"]) - 1, f"not exactly one rule of the ClusterRole allows {needed}"
    role["metadata"]["name"] = f"{cluster.namespace}-{account}"
    role["rules"] = kept
    binding = rbac_install.find(operator_rbac, "ClusterRoleBinding", layout.RECONCILER_CLUSTER_ROLE)
    binding["metadata"]["name"] = role["metadata"]["name"]
    binding["roleRef"]["name"] = role["metadata"]["name"]
    binding["subjects"] = [{"kind": "ServiceAccount", "name": account, "namespace": cluster.namespace}]
    service_account = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": account, "namespace": cluster.namespace},
    }
    rbac_install.install(cp, [service_account, role, binding])
    token = rbac_install.token(cp, cluster.namespace, account)
    async with Client(bearer(cluster, token, direct=True)) as narrowed:
        await in_effect(narrowed, Request("list", api.GROUP, "modelservices"))
        assert not await allowed(narrowed, Asked(needed, cluster.namespace))

    def refusals() -> set[str]:
        return {str(of_record(r)) for r in reconciler_records(cluster) if r.status in REFUSED}

    expected = f"{refused} (namespace {cluster.namespace})"
    options = replace(OPTIONS, namespaces=(cluster.namespace,), leader_election=None)
    async with running(bearer(cluster, token, direct=False), options, SystemClock(), synced=syncs):
        await cluster.create(model_service("qwen", **FULL_SPEC))
        await wait(lambda: expected in refusals(), STEP, f"the API server to refuse {expected}")
    assert refusals() == {expected}
