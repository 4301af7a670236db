"""The demo's story, one function per numbered step, sharing a `Context`.

1. certificates  2. webhook  3. etcd and kube-apiserver  4. CRD and webhook configurations
5. controller-manager, scheduler and KWOK's fake GPU nodes  6. `kubectl apply` the examples (and
the invalid one)  7. reconciler  8. status until Ready  9. the children and `kubectl get
modelservices`  10. a model too big for any node  11. delete one and watch the cleanup

The webhook starts first because the webhook configurations name its address, which is only
known once it has bound port 0. The operator's CRD goes in before the controller-manager starts,
so the real garbage collector knows the kind from its first moment. The examples go in before
the reconciler starts: admission needs only the webhook, and the status then shows the whole way
from "no status" through Pending and Running to Ready, with the reconciler picking up what was
already stored.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from demo import topology, views
from demo.kube import Kube
from demo.kubectl import Kubectl
from demo.processes import REPO_ROOT, Supervisor
from demo.terminal import INDENT, Console, Step
from demo.views import Tracked
from demo.waiting import DemoError, wait_for
from shared import api

EXAMPLES = "examples/"
INVALID = "examples/invalid/broken.yaml"
DEFAULTED = "examples/minimal.yaml"
EXAMPLE_NAMESPACE = "llm"
DELETED = "qwen3-32b-pd"
TOO_BIG = "too-big"
TOO_BIG_GPUS = 16
READY_TIMEOUT = 45.0
CLEANUP_TIMEOUT = 30.0
SCHEDULING_TIMEOUT = 30.0


@dataclass
class Context:
    """What the steps share: where files go, what runs, and how to reach the cluster."""

    console: Console
    work_dir: Path
    supervisor: Supervisor
    pod_delay: float
    certs: topology.CertFiles | None = None
    webhook: topology.Webhook | None = None
    cluster: topology.Cluster | None = None
    kubectl: Kubectl | None = None
    kube: Kube | None = None
    tracked: list[Tracked] = field(default_factory=list)

    def need_kubectl(self) -> Kubectl:
        assert self.kubectl is not None, "the API server step runs first"
        return self.kubectl

    def need_kube(self) -> Kube:
        assert self.kube is not None, "the API server step runs first"
        return self.kube


def generate_certificates(ctx: Context, step: Step) -> None:
    ctx.certs = topology.create_certs(ctx.work_dir / "certs")
    step.note(f"CA + serving certificate for {topology.SERVICE_DNS_NAME}, 127.0.0.1 and localhost")


def start_webhook(ctx: Context, step: Step) -> None:
    assert ctx.certs is not None
    step.activity = "waiting for /readyz"
    ctx.webhook = topology.Webhook.start(ctx.supervisor, ctx.certs).wait_ready()
    address, pid = ctx.webhook.address, ctx.webhook.child.pid
    step.note(f"https://{address}  pid {pid}  (/readyz over TLS, verified with the CA)")


def start_api_server(ctx: Context, step: Step) -> None:
    step.activity = "waiting for /readyz"
    cluster = topology.Cluster.start(ctx.supervisor, ctx.work_dir, ctx.pod_delay)
    ctx.cluster = cluster
    ctx.kubectl = Kubectl(cluster.kubeconfig, ctx.work_dir / "kube-cache", cwd=REPO_ROOT)
    ctx.kube = Kube(cluster.kubeconfig, ctx.work_dir / "client-cache")
    for name, child in cluster.control_plane.children.items():
        step.note(f"{name:<15} pid {child.pid}")
    step.note(f"{cluster.url}  (TLS; RBAC and Node authorization; admission calls webhooks over TLS)")
    step.note("platform CRDs present: InferencePool, HTTPRoute, DestinationRule, PodMonitor, ServiceMonitor")


def install(ctx: Context, step: Step) -> None:
    assert ctx.certs is not None and ctx.webhook is not None
    kubectl = ctx.need_kubectl()
    lines = topology.install(kubectl, ctx.certs, ctx.work_dir, ctx.webhook.address)
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": EXAMPLE_NAMESPACE}}
    lines += kubectl("apply", "-f", "-", stdin=yaml.safe_dump(namespace)).check().stdout.splitlines()
    step.note(
        f"manifests/ with the CA bundle filled in and the webhook Service as https://{ctx.webhook.address}:"
    )
    for line in lines:
        step.note("  " + line)


def start_workers(ctx: Context, step: Step) -> None:
    assert ctx.cluster is not None
    step.activity = "waiting for the nodes to become Ready"
    ctx.cluster.start_workers()
    for name in ("kube-controller-manager", "kube-scheduler", "kwok"):
        step.note(f"{name:<23} pid {ctx.cluster.control_plane.children[name].pid}")
    result = ctx.need_kubectl()(
        "get",
        "nodes",
        "-o",
        "custom-columns=NODE:.metadata.name,READY:.status.conditions[?(@.type=='Ready')].status,"
        "CPU:.status.allocatable.cpu,"
        "NVIDIA:.status.allocatable.nvidia\\.com/gpu,AMD:.status.allocatable.amd\\.com/gpu",
    ).check()
    for line in result.stdout.splitlines():
        step.note("  " + line)


def start_reconciler(ctx: Context, step: Step) -> None:
    assert ctx.cluster is not None
    step.activity = "waiting for its caches to sync"
    reconciler = topology.Reconciler.start(ctx.supervisor, ctx.cluster.kubeconfig).wait_ready()
    step.note(f"probes on http://127.0.0.1:{reconciler.health_port}  pid {reconciler.child.pid}")
    synced = _log_entry(reconciler.child.log_text(), "caches synced")
    count = (synced.get("objects") or {}).get(api.KIND)
    if count is not None:
        step.note(f"its caches synced with the {count} ModelServices stored before it started")


def _log_entry(log: str, message: str) -> dict[str, Any]:
    """The first JSON log line whose `msg` is `message` (empty if there is none)."""
    for line in log.splitlines():
        with contextlib.suppress(ValueError):
            entry = json.loads(line)
            if isinstance(entry, dict) and entry.get("msg") == message:
                return entry
    return {}


def _command(ctx: Context, step: Step, shown: str, stdout: str, stderr: str) -> None:
    step.note(ctx.console.paint(f"$ {shown}", "bold"))
    for line in stdout.splitlines():
        step.note("  " + line)
    for line in stderr.splitlines():
        step.note("  " + ctx.console.paint(line, "red"))


def _expect_refused(ctx: Context, step: Step, shown: str, stdin: str | None, args: list[str]) -> None:
    result = ctx.need_kubectl()(*args, stdin=stdin)
    _command(ctx, step, shown, result.stdout, result.stderr)
    if result.code == 0:
        raise DemoError(f"`{shown}` was accepted; the invalid ModelService must be refused")
    if ctx.need_kube().get(api.API_VERSION, api.KIND, "broken", EXAMPLE_NAMESPACE) is not None:
        raise DemoError("the refused ModelService was stored anyway")
    step.note(ctx.console.paint(f"  -> refused (exit code {result.code}); nothing was stored", "dim"))


def apply_examples(ctx: Context, step: Step) -> None:
    kubectl = ctx.need_kubectl()
    result = kubectl("apply", "-f", EXAMPLES).check()
    _command(ctx, step, f"kubectl apply -f {EXAMPLES}", result.stdout, result.stderr)
    for path in sorted((REPO_ROOT / EXAMPLES).glob("*.yaml")):
        meta = yaml.safe_load(path.read_text())["metadata"]
        tracked = Tracked(meta.get("namespace", EXAMPLE_NAMESPACE), meta["name"])
        tracked.observe(ctx.need_kube().get(api.API_VERSION, api.KIND, tracked.name, tracked.namespace))
        ctx.tracked.append(tracked)
    step.note(ctx.console.paint("  -> stored; no reconciler runs yet, so none has a status", "dim"))
    _show_defaults(ctx, step, DEFAULTED)
    step.note()
    _expect_refused(ctx, step, f"kubectl apply -f {INVALID}", None, ["apply", "-f", INVALID])
    # The schema error stops the request before the validating webhook; with it fixed, the
    # webhook answers and reports every remaining rule at once.
    typed = (REPO_ROOT / INVALID).read_text().replace("replicas: -1", "replicas: 1")
    shown = f"sed 's/replicas: -1/replicas: 1/' {INVALID} | kubectl apply -f -"
    step.note()
    _expect_refused(ctx, step, shown, typed, ["apply", "-f", "-"])


def _show_defaults(ctx: Context, step: Step, path: str) -> None:
    applied = yaml.safe_load((REPO_ROOT / path).read_text())
    meta = applied["metadata"]
    stored = ctx.need_kube().get(api.API_VERSION, api.KIND, meta["name"], meta.get("namespace"))
    if stored is None:
        raise DemoError(f"ModelService {meta['name']} from {path} was not stored")
    step.note()
    step.note(f"filled in by the mutating webhook for {path}:")
    for line in views.added_fields(applied, stored):
        step.note("  " + ctx.console.paint("+ ", "green") + line)


def watch_ready(ctx: Context, step: Step) -> None:
    kube, console = ctx.need_kube(), ctx.console
    started = time.monotonic()
    step.body = lambda: ["", *(INDENT + line for line in views.status_table(console, ctx.tracked))]

    def check() -> bool | None:
        for t in ctx.tracked:
            changed = t.observe(kube.get(api.API_VERSION, api.KIND, t.name, t.namespace))
            if changed and not console.is_live:
                step.emit(f"{since(started)}  {t.name:<18} {changed}")
        waiting = [t for t in ctx.tracked if not t.done()]
        step.activity = f"{len(ctx.tracked) - len(waiting)}/{len(ctx.tracked)} Ready"
        return True if not waiting else None

    wait_for(
        check,
        timeout=READY_TIMEOUT,
        what="every ModelService to become Ready",
        explain=lambda: _not_ready(ctx.tracked),
    )
    step.body = None
    for line in views.status_table(console, ctx.tracked):
        step.note(line)


def _not_ready(tracked: list[Tracked]) -> str:
    """A line with phase and Ready message per ModelService that is not Ready (for error messages)."""
    waiting = [t for t in tracked if not t.done()]
    messages = [t.ready_condition().get("message", "no Ready condition yet") for t in waiting]
    return "".join(
        f"\n{t.name}: phase {t.phase or 'unset'}, {m}" for t, m in zip(waiting, messages, strict=True)
    )


def show_children(ctx: Context, step: Step) -> None:
    for t in ctx.tracked:
        children = views.children_of(ctx.need_kube(), t.namespace, t.name)
        for line in views.tree(ctx.console, f"ModelService {t.namespace}/{t.name}", children):
            step.note(line)
        step.note()
    result = ctx.need_kubectl()("get", "modelservices", "-n", EXAMPLE_NAMESPACE, "-o", "wide").check()
    _command(
        ctx, step, f"kubectl get modelservices -n {EXAMPLE_NAMESPACE} -o wide", result.stdout, result.stderr
    )


def too_big(ctx: Context, step: Step) -> None:
    """A model asking for more accelerators per pod than any node has: its pod stays Pending, the
    scheduler says why, and the ModelService's status says it too, in the scheduler's words."""
    minimal = yaml.safe_load((REPO_ROOT / DEFAULTED).read_text())
    obj = {
        "apiVersion": api.API_VERSION,
        "kind": api.KIND,
        "metadata": {"name": TOO_BIG, "namespace": EXAMPLE_NAMESPACE},
        "spec": {**minimal["spec"], "decode": {"replicas": 1, "parallelism": {"tensor": TOO_BIG_GPUS}}},
    }
    shown = f"kubectl apply -f -   # {DEFAULTED} as {TOO_BIG}, decode.parallelism.tensor: {TOO_BIG_GPUS}"
    kubectl, kube = ctx.need_kubectl(), ctx.need_kube()
    result = kubectl("apply", "-f", "-", stdin=yaml.safe_dump(obj)).check()
    _command(ctx, step, shown, result.stdout, result.stderr)
    step.activity = "waiting for the scheduler's verdict"
    selector = f"app.kubernetes.io/name={TOO_BIG}"

    def unschedulable() -> tuple[str, str] | None:
        for pod in kube.list("v1", "Pod", EXAMPLE_NAMESPACE, label_selector=selector):
            for c in (pod.get("status") or {}).get("conditions") or ():
                if c.get("type") == "PodScheduled" and c.get("reason") == "Unschedulable":
                    return pod["metadata"]["name"], str(c.get("message", ""))
        return None

    pod, message = wait_for(
        unschedulable, timeout=SCHEDULING_TIMEOUT, what=f"the pods of {TOO_BIG} to be judged"
    )
    verdict = message.split(". ")[0]
    step.note(f"pod {pod}: Pending, {ctx.console.paint('Unschedulable', 'yellow')}")
    step.note(f"  the scheduler: {verdict}.")
    step.activity = f"waiting for the status of {TOO_BIG} to say why"

    def explained() -> dict[str, Any] | None:
        status = (kube.get(api.API_VERSION, api.KIND, TOO_BIG, EXAMPLE_NAMESPACE) or {}).get("status") or {}
        ready = _condition(status, "Ready")
        return (
            status if ready.get("reason") == "Unschedulable" and verdict in ready.get("message", "") else None
        )

    status = wait_for(
        explained,
        timeout=SCHEDULING_TIMEOUT,
        what=f"the status of {TOO_BIG} to quote the scheduler",
        explain=lambda: f"\nReady: {_condition(_status_of(kube, TOO_BIG), 'Ready') or 'not set yet'}",
    )
    step.note()
    result = kubectl("get", "modelservice", TOO_BIG, "-n", EXAMPLE_NAMESPACE).check()
    _command(ctx, step, f"kubectl get modelservice {TOO_BIG} -n {EXAMPLE_NAMESPACE}", result.stdout, "")
    ready = _condition(status, "Ready")
    failure = (status.get("lastFailure") or {}).get("decode") or {}
    step.note(f"status.conditions[Ready].message: {ready.get('message', '')}")
    step.note(
        f"status.lastFailure.decode: {failure.get('reason')} on {failure.get('pod')} at {failure.get('time')}"
    )
    _show_events(ctx, step, TOO_BIG)
    step.note(ctx.console.paint(f"  each fake node has 8 GPUs; {TOO_BIG_GPUS} per pod never fit", "dim"))


def _condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    found: dict[str, Any] = next((c for c in status.get("conditions") or () if c.get("type") == kind), {})
    return found


def _status_of(kube: Kube, name: str) -> dict[str, Any]:
    found: dict[str, Any] = (kube.get(api.API_VERSION, api.KIND, name, EXAMPLE_NAMESPACE) or {}).get(
        "status"
    ) or {}
    return found


def _show_events(ctx: Context, step: Step, name: str) -> None:
    """The Events section of `kubectl describe`, as a user would read it."""
    described = ctx.need_kubectl()("describe", "modelservice", name, "-n", EXAMPLE_NAMESPACE).check()
    lines = described.stdout.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("Events:")), len(lines))
    shown = f"kubectl describe modelservice {name} -n {EXAMPLE_NAMESPACE}   # its Events"
    _command(ctx, step, shown, "\n".join(lines[start:]), "")


def delete_one(ctx: Context, step: Step) -> None:
    kube, kubectl = ctx.need_kube(), ctx.need_kubectl()
    namespace = EXAMPLE_NAMESPACE
    remaining = {views.ref(c) for c in views.children_of(kube, namespace, DELETED)}
    remaining.add(f"{api.KIND}/{DELETED}")
    total = len(remaining)
    shown = f"kubectl delete modelservice {DELETED} -n {namespace} --wait=false"
    result = kubectl("delete", "modelservice", DELETED, "-n", namespace, "--wait=false").check()
    step.emit(ctx.console.paint(f"$ {shown}", "bold") + "\n  " + result.stdout.strip())
    started = time.monotonic()
    seen_finalizer = False

    def check() -> bool | None:
        nonlocal seen_finalizer
        owner = kube.get(api.API_VERSION, api.KIND, DELETED, namespace)
        now = {views.ref(c) for c in views.children_of(kube, namespace, DELETED)}
        if owner is not None:
            now.add(f"{api.KIND}/{DELETED}")
            finalizers = owner["metadata"].get("finalizers") or []
            if finalizers and not seen_finalizer:
                seen_finalizer = True
                step.emit(f"{since(started)}  terminating; finalizer {', '.join(finalizers)}")
        for gone in sorted(remaining - now):
            step.emit(f"{since(started)}  removed {gone}")
        remaining.intersection_update(now)
        step.activity = f"{len(remaining)} of {total} objects remain"
        return True if not remaining else None

    wait_for(
        check,
        timeout=CLEANUP_TIMEOUT,
        what=f"everything of {DELETED} to be removed",
        explain=lambda: "still present: " + ", ".join(sorted(remaining)),
    )
    step.note(f"all {total} objects are gone (children by GC, cluster RBAC by the finalizer)")
    others = [t for t in ctx.tracked if t.name != DELETED]
    for t in others:
        t.observe(kube.get(api.API_VERSION, api.KIND, t.name, t.namespace))
    if not all(t.done() for t in others):
        raise DemoError("deleting one ModelService disturbed another: " + _not_ready(others))
    step.note(f"still Ready: {', '.join(t.name for t in others)}")


def since(started: float) -> str:
    """`+1.3s`, padded so a column of them lines up."""
    return f"+{time.monotonic() - started:.1f}s".ljust(6)


STEPS: tuple[tuple[str, Callable[[Context, Step], None]], ...] = (
    ("Generating certificates", generate_certificates),
    ("Starting the admission webhook", start_webhook),
    ("Starting etcd and kube-apiserver", start_api_server),
    ("Installing the CRD and webhook configurations", install),
    ("Starting the controller-manager, scheduler and fake GPU nodes (KWOK)", start_workers),
    ("Applying the examples with kubectl", apply_examples),
    ("Starting the reconciler", start_reconciler),
    ("Waiting for every ModelService to become Ready", watch_ready),
    ("Showing what the operator created", show_children),
    ("Asking for more GPUs than any node has", too_big),
    (f"Deleting {DELETED} and watching the cleanup", delete_one),
)
