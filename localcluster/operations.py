"""The verbs (get, list, create, update, patch, delete) with the real server's pipeline.

Writes run in the API server's order: decode (prune and default custom resources, default
built-in kinds), namespace lifecycle checks, mutating admission, defaulting again, system metadata
(`BeforeCreate` / `BeforeUpdate`), validation, validating admission, then the optimistic
concurrency check and the store. `dryRun=All` runs everything but the store. Nothing here knows
HTTP: the server module parses requests into a `Target` and `Options` and renders the `Result`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from localcluster import crds, errors, kinds, meta, patch, schema, validation
from localcluster.registry import CRD_KEY, NAMESPACES_KEY, Registry, ResourceType, from_crd
from localcluster.store import Event, Store

Manifest = dict[str, Any]
CREATE, UPDATE, DELETE = "CREATE", "UPDATE", "DELETE"
SYSTEM_USER: Manifest = {"username": "system:admin", "groups": ["system:masters", "system:authenticated"]}
PROTECTED_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})


@dataclass(frozen=True, slots=True)
class Target:
    """What a request addresses: a resource type in a version, optionally one object and /status."""

    rt: ResourceType
    version: str
    namespace: str = ""
    name: str = ""
    subresource: str = ""


@dataclass(slots=True)
class Options:
    dry_run: bool = False
    field_validation: str = "Warn"  # Strict | Warn | Ignore
    user: Manifest = field(default_factory=lambda: dict(SYSTEM_USER))
    admission: bool = True
    options: Manifest = field(default_factory=dict)  # Create/Update/DeleteOptions sent to webhooks
    warnings: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Result:
    code: int
    body: Manifest
    warnings: list[str]


class Admitter(Protocol):
    """The admission chain (webhooks); the operations call it at the real server's two points."""

    async def mutate(
        self, op: str, t: Target, obj: Manifest | None, old: Manifest | None, opts: Options
    ) -> Manifest | None: ...

    async def validate(
        self, op: str, t: Target, obj: Manifest | None, old: Manifest | None, opts: Options
    ) -> None: ...


class Operations:
    def __init__(
        self,
        registry: Registry,
        store: Store,
        admitter: Admitter | None = None,
        seed: int | None = None,
        clock: Callable[[], str] = meta.timestamp,
    ) -> None:
        self.registry = registry
        self.store = store
        self.admitter = admitter
        self.rng = random.Random(seed)
        self.clock = clock
        self.cluster_ips = kinds.ClusterIPs()

    # ----- reads ---------------------------------------------------------------------------------

    def out(self, t: Target, obj: Manifest) -> Manifest:
        """The stored object as seen in the request's version (no copy when it already matches)."""
        api_version = t.rt.api_version(t.version)
        return obj if obj.get("apiVersion") == api_version else {**obj, "apiVersion": api_version}

    def existing(self, t: Target) -> Manifest:
        obj = self.store.get(t.rt.key, t.namespace, t.name)
        if obj is None:
            raise errors.not_found(t.rt.group, t.rt.plural, t.name)
        return obj

    def get(self, t: Target) -> Manifest:
        return self.out(t, self.existing(t))

    # ----- create --------------------------------------------------------------------------------

    async def create(self, t: Target, body: Any, opts: Options) -> Result:
        obj = self._decode(t, body)
        self._normalize(t, obj, opts)
        if t.rt.namespaced:
            self._check_namespace(t, obj)
        obj = await self._mutate(CREATE, t, obj, None, opts)
        meta.before_create(t.rt, obj, self.clock(), self.rng)
        kinds.allocate(t.rt, obj, self.cluster_ips)
        if t.rt.key == CRD_KEY:
            obj["status"] = crds.status(obj, None, self.clock()) if not crds.validate(obj) else {}
        self._validate(t, obj, None)
        await self._admit(CREATE, t, obj, None, opts)
        name = obj["metadata"]["name"]
        if self.store.get(t.rt.key, t.namespace, name) is not None:
            raise errors.already_exists(t.rt.group, t.rt.plural, name)
        if opts.dry_run:
            return Result(201, obj, opts.warnings)
        event = self._put(t, obj)
        return Result(201, self.out(t, event.obj), opts.warnings)

    # ----- update and patch ----------------------------------------------------------------------

    async def update(self, t: Target, body: Any, opts: Options) -> Result:
        existing = self.existing(t)
        obj = self._decode(t, body)
        if not obj["metadata"].get("resourceVersion") and t.rt.custom and t.subresource != "status":
            raise errors.invalid_object(
                t.rt.kind,
                t.rt.group,
                t.name,
                [errors.invalid("metadata.resourceVersion", 0, "must be specified for an update")],
            )
        return await self._update(t, existing, obj, opts)

    async def patch(self, t: Target, body: Any, content_type: str, opts: Options) -> Result:
        existing = self.existing(t)
        patched = patch.apply(self.out(t, existing), body, content_type, strategic_allowed=not t.rt.custom)
        obj = self._decode(t, meta.clone(patched))
        return await self._update(t, existing, obj, opts)

    async def _update(self, t: Target, existing: Manifest, obj: Manifest, opts: Options) -> Result:
        self._normalize(t, obj, opts)
        old = self.out(t, existing)
        obj = await self._mutate(UPDATE, t, obj, old, opts)
        if t.subresource == "status":
            obj = meta.only_status(existing, obj)
            obj["apiVersion"] = old["apiVersion"]
        elif t.rt.status_subresource:
            meta.keep_status(existing, obj)
        submitted_rv = obj["metadata"].get("resourceVersion")
        if submitted_rv and submitted_rv != existing["metadata"]["resourceVersion"]:
            raise errors.conflict(t.rt.group, t.rt.plural, t.name)
        kinds.carry_over(t.rt, obj, existing)
        meta.before_update(t.rt, obj, existing)
        if t.rt.key == CRD_KEY:
            obj["status"] = crds.status(obj, existing, self.clock()) if not crds.validate(obj) else {}
        added = meta.new_finalizers(obj, existing)
        if added:
            raise errors.invalid_object(
                t.rt.kind,
                t.rt.group,
                t.name,
                [
                    errors.FieldError(
                        errors.FORBIDDEN,
                        "metadata.finalizers",
                        errors.OMIT,
                        "no new finalizers can be added if the object is being deleted, "
                        f"found new finalizers {added}",
                    )
                ],
            )
        self._validate(t, obj, existing)
        await self._admit(UPDATE, t, obj, old, opts)
        obj["metadata"]["resourceVersion"] = existing["metadata"]["resourceVersion"]
        if self.out(t, obj) == old or opts.dry_run:
            return Result(200, obj if opts.dry_run else old, opts.warnings)
        if existing["metadata"].get("deletionTimestamp") and not meta.pending_finalizers(obj):
            obj["apiVersion"] = t.rt.api_version()
            self._remove(t, existing, obj)
            return Result(200, self.out(t, obj), opts.warnings)
        event = self._put(t, obj)
        return Result(200, self.out(t, event.obj), opts.warnings)

    # ----- delete --------------------------------------------------------------------------------

    async def delete(
        self, t: Target, opts: Options, propagation: str | None = None, preconditions: Manifest | None = None
    ) -> Result:
        existing = self.existing(t)
        self._check_preconditions(t, existing, preconditions or {})
        if t.rt.key == NAMESPACES_KEY and t.name in PROTECTED_NAMESPACES:
            raise errors.forbidden("", "namespaces", t.name, "this namespace may not be deleted")
        old = self.out(t, existing)
        await self._mutate(DELETE, t, None, old, opts)
        await self._admit(DELETE, t, None, old, opts)
        finalizers = list(existing["metadata"].get("finalizers") or ())
        extra = {"Foreground": "foregroundDeletion", "Orphan": "orphan"}.get(propagation or "")
        if extra and extra not in finalizers and not existing["metadata"].get("deletionTimestamp"):
            finalizers.append(extra)
        deferred = bool(finalizers) or meta.pending_finalizers(existing)
        if not deferred:
            if not opts.dry_run:
                self._remove(t, existing)
            details = {
                "name": t.name,
                "group": t.rt.group,
                "kind": t.rt.plural,
                "uid": existing["metadata"]["uid"],
            }
            body = {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": {k: v for k, v in details.items() if v},
            }
            return Result(200, body, opts.warnings)
        obj = meta.clone(existing)
        obj_meta = obj["metadata"]
        if not obj_meta.get("deletionTimestamp"):
            obj_meta["deletionTimestamp"] = self.clock()
            obj_meta["deletionGracePeriodSeconds"] = 0
            obj_meta["generation"] = int(obj_meta.get("generation") or 0) + 1
        if finalizers:
            obj_meta["finalizers"] = finalizers
        if t.rt.key == NAMESPACES_KEY:
            obj.setdefault("status", {})["phase"] = "Terminating"
        if obj == existing or opts.dry_run:
            return Result(200, self.out(t, obj), opts.warnings)
        event = self._put(t, obj)
        return Result(200, self.out(t, event.obj), opts.warnings)

    def _check_preconditions(self, t: Target, existing: Manifest, pre: Manifest) -> None:
        obj_meta = existing["metadata"]
        for key, label in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
            if pre.get(key) and pre[key] != obj_meta.get(key):
                raise errors.conflict(
                    t.rt.group,
                    t.rt.plural,
                    t.name,
                    f"Precondition failed: {label} in precondition: {pre[key]}, "
                    f"{label} in object meta: {obj_meta.get(key)}",
                )

    # ----- pipeline steps ------------------------------------------------------------------------

    def _decode(self, t: Target, body: Any) -> Manifest:
        rt = t.rt
        if not isinstance(body, dict):
            raise errors.bad_request(f"the object provided is not a valid {rt.kind}: expected a JSON object")
        expected = rt.api_version(t.version)
        # apiVersion and kind first, as the real server serialises them.
        head = {"apiVersion": body.pop("apiVersion", expected), "kind": body.pop("kind", rt.kind)}
        obj: Manifest = {**head, **body}
        if obj["apiVersion"] != expected or obj["kind"] != rt.kind:
            raise errors.bad_request(
                f"the API version in the data ({obj['apiVersion']}) does not match the expected API version "
                f"({expected})"
                if obj["apiVersion"] != expected
                else f"the kind in the data ({obj['kind']}) does not match the expected kind ({rt.kind})"
            )
        obj_meta = obj.setdefault("metadata", {})
        if not isinstance(obj_meta, dict):
            raise errors.bad_request("metadata must be an object")
        for key in meta.OMIT_EMPTY:
            # Go's `omitempty` drops empty maps and lists when the real server serialises them.
            if key in obj_meta and not obj_meta[key]:
                del obj_meta[key]
        if t.name and obj_meta.get("name") not in (None, "", t.name):
            raise errors.bad_request(
                f"the name of the object ({obj_meta['name']}) does not match the name on the URL ({t.name})"
            )
        if t.name:
            obj_meta["name"] = t.name
        if rt.namespaced:
            if obj_meta.get("namespace") not in (None, "", t.namespace):
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            obj_meta["namespace"] = t.namespace
        else:
            obj_meta.pop("namespace", None)
        return obj

    def _normalize(self, t: Target, obj: Manifest, opts: Options) -> None:
        if t.rt.custom:
            unknown = schema.normalize(obj, t.rt.schema(t.version))
            if unknown and opts.field_validation == "Strict":
                raise schema.unknown_fields_error(t.rt.kind, t.version, unknown)
            if unknown and opts.field_validation == "Warn":
                opts.warnings.extend(
                    f'unknown field "{p}"' for p in unknown if f'unknown field "{p}"' not in opts.warnings
                )
        else:
            kinds.apply_defaults(t.rt, obj, self.cluster_ips)
            if t.rt.key == CRD_KEY:
                crds.default(obj)

    def _check_namespace(self, t: Target, obj: Manifest) -> None:
        ns = self.store.get(NAMESPACES_KEY, "", t.namespace)
        if ns is None:
            raise errors.not_found("", "namespaces", t.namespace)
        if ns["metadata"].get("deletionTimestamp"):
            raise errors.forbidden(
                t.rt.group,
                t.rt.plural,
                obj["metadata"].get("name", ""),
                f"unable to create new content in namespace {t.namespace} because it is being terminated",
            )

    def _validate(self, t: Target, obj: Manifest, old: Manifest | None) -> None:
        rt = t.rt
        errs = validation.validate_meta(obj["metadata"], rt.namespaced, kinds.name_check(rt))
        if rt.custom:
            spec_schema = rt.schema(t.version)
            if spec_schema is not None:
                errs.extend(schema.validate(obj, spec_schema))
        else:
            errs.extend(kinds.validate(rt, obj, old))
            if rt.key == CRD_KEY:
                errs.extend(crds.validate(obj))
        if errs:
            raise errors.invalid_object(rt.kind, rt.group, obj["metadata"].get("name", ""), errs)

    async def _mutate(
        self, op: str, t: Target, obj: Manifest | None, old: Manifest | None, opts: Options
    ) -> Any:
        if self.admitter is None or not opts.admission:
            return obj
        mutated = await self.admitter.mutate(op, t, obj, old, opts)
        if mutated is not obj and mutated is not None:
            self._normalize(t, mutated, opts)
        return mutated

    async def _admit(
        self, op: str, t: Target, obj: Manifest | None, old: Manifest | None, opts: Options
    ) -> None:
        if self.admitter is not None and opts.admission:
            await self.admitter.validate(op, t, self.out(t, obj) if obj is not None else None, old, opts)

    def _put(self, t: Target, obj: Manifest) -> Event:
        obj["apiVersion"] = t.rt.api_version()
        event = self.store.put(t.rt.key, obj)
        if t.rt.key == CRD_KEY:
            self.registry.install(from_crd(obj))
        return event

    def _remove(self, t: Target, existing: Manifest, final: Manifest | None = None) -> None:
        self.store.remove(t.rt.key, t.namespace, existing["metadata"]["name"], final)
        if t.rt.key == CRD_KEY:
            spec = existing["spec"]
            key = (spec["group"], spec["names"]["plural"])
            self.registry.uninstall(key)
            self.store.drop_resource(key)
