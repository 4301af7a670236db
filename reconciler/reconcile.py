"""Reconcile one ModelService: level-triggered and idempotent.

It reads everything from the cache and never asks which event woke it. Steps (numbered as the
reference numbers ``reconcileResources``):

1. Fetch the ModelService; gone means done (garbage collection removes namespaced children).
2. Being deleted: remove the cluster-scoped children this ModelService owns, release the finalizer.
3. Validate as the webhook would; an invalid spec gets Ready=False with the reason and is not
   retried (``TerminalError``), and no child is written.
4. Build the desired state (operator image defaults are applied to a copy inside ``build_all``).
5. Add the finalizer, only when cluster-scoped children are wanted, before creating any of them.
6. Apply every desired child: create if missing, update only on a real difference (an autoscaler
   that is no longer wanted is deleted first: one autoscaler per Deployment).
7. Prune children this ModelService controls that are no longer desired.
8. Release the finalizer once no cluster-scoped child is wanted or left.
9. Derive the status; write it (merge patch on /status) only when it changed; record Events.

A no-op pass makes no API request at all.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from reconciler import apply, pods
from reconciler.controller import Deps, ReconcileState
from reconciler.runtime.cache import Cache, split_key
from reconciler.runtime.controller import Result
from reconciler.runtime.errors import ApiError, ReconcileFailed, TerminalError
from reconciler.watches import MODELSERVICE
from shared import api, names, validation
from shared.api import ModelService
from shared.builders import AUTOSCALER_KINDS, AUTOSCALERS, DesiredState, build_all
from shared.builders.meta import CLUSTER_SCOPED_KINDS
from shared.names import Role
from shared.scaling_status import Autoscaler
from shared.status import Observed, derive_status, transition_events

log = logging.getLogger(__name__)

FINALIZER = "model.otterscale.io/epp-cluster-rbac"
ROLES: tuple[Role, ...] = ("decode", "prefill")


async def reconcile(key: str, deps: Deps) -> Result:
    namespace, name = split_key(key)
    # 1. Fetch from the cache; gone means done. A reconcile that was a no-op left a fingerprint
    #    of all it read (ModelService and children resourceVersions, the served kinds); while that
    #    still matches, another reconcile would reach the same verdict, so none is run.
    entry = deps.cache.entry(MODELSERVICE, namespace, name)
    if entry is None:
        deps.no_op_fingerprints.pop(key, None)
        return Result()
    seen = (entry.rv, deps.cache.fingerprint(key), deps.mapper.generation)
    if deps.no_op_fingerprints.pop(key, None) == seen:
        deps.no_op_fingerprints[key] = seen
        return Result()
    raw = entry.obj()
    state = ReconcileState(name, namespace, _uid(raw))
    result = await _converge(raw, deps, state)
    if state.was_no_op:
        deps.no_op_fingerprints[key] = seen
    return result


async def _converge(raw: dict[str, Any], deps: Deps, state: ReconcileState) -> Result:
    # 2. Being deleted: finalizer cleanup only.
    if raw["metadata"].get("deletionTimestamp"):
        await finalize(raw, deps)
        return Result()
    # 3. Validate; an invalid spec is reported once and not retried.
    report = validation.validate(raw, deps.settings)
    if report.model is None or not report.ok:
        message = "; ".join(str(e) for e in report.errors)
        await write_status(raw, Observed(invalid=message), state, deps)
        raise TerminalError(f"invalid spec: {message}")
    ms = report.model
    # 4. Desired state.
    desired = build_all(ms, deps.settings)
    # 5. Finalizer before any cluster-scoped child exists.
    if _wants_cluster_children(desired) and FINALIZER not in _finalizers(raw):
        raw = await set_finalizers(raw, [*_finalizers(raw), FINALIZER], deps, state)
    # 6. Apply every desired child in order. An autoscaler no longer wanted goes first, so a
    #    Deployment never has two at once when autoscaling changes engine (KEDA's admission
    #    webhook refuses a ScaledObject for a Deployment that an HPA already scales).
    await _guarded(apply.prune(desired, deps, state, only_kinds=AUTOSCALER_KINDS), state)
    await apply_all(desired, deps, state)
    # 7. Prune children no longer desired.
    if not state.errors:
        await _guarded(apply.prune(desired, deps, state), state)
    # 8. Release the finalizer when nothing cluster-scoped is wanted or left.
    if (
        not _wants_cluster_children(desired)
        and FINALIZER in _finalizers(raw)
        and not _cluster_children(deps, state)
    ):
        raw = await set_finalizers(raw, [f for f in _finalizers(raw) if f != FINALIZER], deps, state)
    # 9. Status and Events.
    await write_status(raw, observe(ms, desired, state, deps.cache), state, deps)
    if state.errors:
        raise ReconcileFailed("; ".join(state.errors), state.retry_after)
    return Result(requeue=state.requeue)


async def apply_all(desired: DesiredState, deps: Deps, state: ReconcileState) -> None:
    """Ensure each child; a non-retryable failure is recorded and the next child is still tried."""
    for obj in desired.objects:
        if not await _guarded(apply.ensure(obj, deps, state), state):
            return


async def _guarded(step: Any, state: ReconcileState) -> bool:
    """Run one write step; record its failure in ``state``. False when the pass should stop."""
    try:
        await step
    except apply.ChildError as e:
        state.errors.append(str(e))
        state.retry_after = e.retry_after if e.retry_after is not None else state.retry_after
        return not e.retryable
    return True


async def finalize(raw: Mapping[str, Any], deps: Deps) -> None:
    """Delete the cluster-scoped children this ModelService owns, then release the finalizer."""
    if FINALIZER not in _finalizers(raw):
        return
    state = ReconcileState(raw["metadata"]["name"], raw["metadata"]["namespace"], _uid(raw))
    for gvk, obj in _cluster_children(deps, state):
        try:
            await apply.delete(gvk, obj, deps, state)
        except apply.ChildError as e:
            raise ReconcileFailed(str(e), e.retry_after) from e
    await set_finalizers(raw, [f for f in _finalizers(raw) if f != FINALIZER], deps, state)
    if state.deleted:
        await deps.events.record(raw, "Normal", "Deleted", "Deleted " + ", ".join(state.deleted))


def _cluster_children(deps: Deps, state: ReconcileState) -> list[tuple[tuple[str, str], dict[str, Any]]]:
    """The cluster-scoped children this ModelService owns, per the cache."""
    found = []
    for gvk, (_, name) in deps.cache.owned_keys(state.owner_key):
        obj = deps.cache.get(gvk, None, name) if gvk[1] in CLUSTER_SCOPED_KINDS else None
        if (
            obj is not None
            and apply.ownership(obj, state.name, state.namespace, state.uid) is apply.Ownership.OURS
        ):
            found.append((gvk, obj))
    return found


async def set_finalizers(
    raw: Mapping[str, Any], finalizers: list[str], deps: Deps, state: ReconcileState
) -> dict[str, Any]:
    """Update the ModelService with ``finalizers`` (resourceVersion precondition: a 409 requeues)."""
    state.wrote = True
    resource = deps.mapper.resource(api.API_VERSION, api.KIND)
    body = {**raw, "metadata": {**raw["metadata"], "finalizers": finalizers}}
    updated = await deps.client.replace(resource, body)
    deps.cache.record_write(MODELSERVICE, updated)
    log.info("updated finalizers", extra={"finalizers": finalizers})
    return updated


def observe(ms: ModelService, desired: DesiredState, state: ReconcileState, cache: Cache) -> Observed:
    """The status inputs: our children as this pass left them, and their pods as cached."""
    wants_route = any(o["kind"] == "HTTPRoute" for o in desired.objects)
    wants_prefill = ms.spec.prefill is not None
    prefill = names.prefill_name(ms)
    return Observed(
        decode=state.find("apps/v1", "Deployment", names.decode_name(ms)),
        prefill=state.find("apps/v1", "Deployment", prefill) if wants_prefill else None,
        prefill_enabled=wants_prefill,
        epp=state.find("apps/v1", "Deployment", names.epp_name(ms)),
        decode_pods=cache.dependents(pods.POD, state.namespace, names.decode_name(ms)),
        prefill_pods=cache.dependents(pods.POD, state.namespace, prefill) if wants_prefill else (),
        epp_pods=cache.dependents(pods.POD, state.namespace, names.epp_name(ms)),
        pool=_find_kind(state, "InferencePool", names.inference_pool_name(ms)),
        route=_find_kind(state, "HTTPRoute", names.http_route_name(ms)),
        route_wanted=wants_route,
        missing_kinds=tuple(sorted(state.missing_kinds)),
        conflicts=tuple(state.conflicts),
        error="; ".join(state.errors) or None,
        autoscalers=_autoscalers(ms, state),
    )


def _autoscalers(ms: ModelService, state: ReconcileState) -> tuple[Autoscaler, ...]:
    """Each autoscaled pod group's HPA or ScaledObject, as this pass left it (None if not written)."""
    found = []
    for role in ROLES:
        role_spec = ms.spec.decode if role == "decode" else ms.spec.prefill
        scaling = role_spec.autoscaling if role_spec is not None else None
        if scaling is None:
            continue
        api_version, kind = AUTOSCALERS[scaling.engine]
        name = names.role_deployment_name(ms, role)
        found.append(Autoscaler(role, kind, name, state.find(api_version, kind, name)))
    return tuple(found)


def _find_kind(state: ReconcileState, kind: str, name: str) -> dict[str, Any] | None:
    return next((o for (gvk, (_, n)), o in state.live.items() if gvk[1] == kind and n == name), None)


async def write_status(raw: Mapping[str, Any], observed: Observed, state: ReconcileState, deps: Deps) -> None:
    """Patch the status only if it changed, then record Events for writes and transitions."""
    await _record_writes(raw, state, deps)
    old: Mapping[str, Any] = raw.get("status") or {}
    new = derive_status(raw, observed, deps.clock.now())
    if new != old:
        resource = deps.mapper.resource(api.API_VERSION, api.KIND)
        meta = raw["metadata"]
        state.wrote = True
        try:
            written = await deps.client.patch_status(
                resource, meta["name"], meta["namespace"], merge_patch(old, new)
            )
        except ApiError as e:
            if observed.error is None:
                raise
            log.warning("could not report the reconcile error on the status", extra={"error": str(e)})
        else:
            deps.cache.record_write(MODELSERVICE, written)
            log.info("updated status", extra={"phase": new.get("phase"), "ready": _ready_reason(new)})
            await _record_transitions(raw, old, new, deps)
    if observed.error is not None:
        await deps.events.record(raw, "Warning", "ReconcileError", observed.error)


async def _record_writes(raw: Mapping[str, Any], state: ReconcileState, deps: Deps) -> None:
    for reason, done in (("Created", state.created), ("Updated", state.updated), ("Deleted", state.deleted)):
        if done:
            log.info(f"{reason.lower()} children", extra={"children": done})
            await deps.events.record(raw, "Normal", reason, f"{reason} {', '.join(done)}")


async def _record_transitions(
    raw: Mapping[str, Any], old: Mapping[str, Any], new: Mapping[str, Any], deps: Deps
) -> None:
    for kind, reason, note in transition_events(old, new):
        await deps.events.record(raw, kind, reason, note)


def merge_patch(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON merge patch turning ``old`` into ``new`` (one level deep: status fields are leaves or lists)."""
    patch: dict[str, Any] = {key: value for key, value in new.items() if old.get(key) != value}
    patch.update({key: None for key in old if key not in new})
    return patch


def _ready_reason(status: Mapping[str, Any]) -> str:
    ready: Mapping[str, Any] = next(
        (c for c in status.get("conditions") or () if c.get("type") == "Ready"), {}
    )
    return str(ready.get("reason", ""))


def _finalizers(raw: Mapping[str, Any]) -> list[str]:
    return list(raw["metadata"].get("finalizers") or ())


def _uid(raw: Mapping[str, Any]) -> str:
    return str(raw["metadata"].get("uid") or "")


def _wants_cluster_children(desired: DesiredState) -> bool:
    return any(o["kind"] in CLUSTER_SCOPED_KINDS for o in desired.objects)
