"""The admission decisions, as pure functions: AdmissionReview in, AdmissionReview out.

`mutate` records the DNS-1035 name, fills empty images from the operator defaults, adds the CRD
schema defaults and writes float quantities as strings; `validate` runs `shared.validation` and, on
UPDATE, warns which serving pods a change creates, deletes or restarts. Both are
`sideEffects: None`: a dry run gets the same verdict and patch because nothing here depends on it.
No I/O, no clock, no logging: `webhook.app` does those.

Status codes: schema and rule violations answer 422 `Invalid` (what the API server itself answers
for an invalid object, so kubectl users see the familiar "is invalid" text). A denial caused only by
the image policy answers 403 `Forbidden`: the object is well-formed, the tenant is just not allowed
to run that image. When both occur the answer is 422 and lists all errors, policy ones included.
A request for any other kind than ModelService answers 400 `BadRequest` (see `wrong_kind`).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from shared import api, defaulting, formats, validation
from shared.api import ModelService
from shared.settings import OperatorSettings
from webhook import restarts, reviews
from webhook.memo import Memo

Hook = Literal["mutate", "validate"]
Verdict = Literal["allowed", "patched", "warned", "denied", "bad_request"]


@dataclass
class Memos:
    """Recent patches, spec verdicts and restart warnings of one webhook process (see
    `webhook.memo`).

    Valid for one `OperatorSettings` only (the answers depend on them): the app makes one next to
    its settings. Without one every request is judged from scratch, as the offline tools do.
    """

    specs: Memo[validation.SpecVerdict] = field(default_factory=lambda: Memo(128))
    """By spec: the same spec comes under other names and metadata, and as the old object's spec
    of the UPDATE after the one that admitted it (whose stored metadata has changed since)."""
    patches: Memo[str] = field(default_factory=lambda: Memo(256))
    restarts: restarts.RestartMemo = field(default_factory=lambda: Memo(128))


def review(
    body: Any,
    settings: OperatorSettings,
    hook: Hook,
    *,
    persist_images: bool = True,
    memos: Memos | None = None,
) -> reviews.AdmissionReview:
    """Answer one AdmissionReview body; raises reviews.BadRequest when it is not one.

    `persist_images=False` makes mutate leave empty image fields empty, so the reconciler keeps
    applying the operator's current default images (see `webhook.config`).
    """
    request = reviews.parse(body)
    response: reviews.Response
    if (request.kind.group, request.kind.kind) != (api.GROUP, api.KIND):
        response = wrong_kind(request)
    elif request.passes_untouched:
        response = {"uid": request.uid, "allowed": True}
    elif hook == "mutate":
        response = mutate(request, settings, persist_images=persist_images, memos=memos)
    else:
        response = validate(request, settings, memos)
    return {"apiVersion": request.api_version, "kind": "AdmissionReview", "response": response}


def mutate(
    request: reviews.Request,
    settings: OperatorSettings,
    *,
    persist_images: bool = True,
    memos: Memos | None = None,
) -> reviews.Response:
    """Defaults as a JSONPatch; no patch at all when the object is already complete.

    The patch includes the CRD's schema defaults although the API server has applied them before
    it calls this webhook (and applies them again after a patch), so from a live API server those
    operations always come out empty. They stay because `defaulting.default_ops` is the one
    statement of what gets stored: the offline CLI's `render` and `validate` show what the webhook
    would store from a manifest as written, which only holds if the webhook, given the same
    undefaulted manifest, answers the same. The walk visits only subtrees that can carry a default:
    about 5 µs on a complete prefill/decode object, paid on a patch-memo miss only.
    """
    obj = request.object
    assert obj is not None
    old = request.old_object if request.operation == "UPDATE" else None

    def patch() -> str:
        ops = defaulting.default_ops(obj, settings, old, images=persist_images)
        return base64.b64encode(orjson.dumps(ops)).decode() if ops else ""

    if memos is None:
        encoded = patch()
    else:
        # What the patch depends on: the object, the name the old object recorded, the flag.
        recorded = defaulting.recorded_name(old)
        encoded = memos.patches.get_or_compute(orjson.dumps([persist_images, recorded, obj]), patch)
    if not encoded:
        return {"uid": request.uid, "allowed": True}
    return {"uid": request.uid, "allowed": True, "patchType": "JSONPatch", "patch": encoded}


def validate(
    request: reviews.Request, settings: OperatorSettings, memos: Memos | None = None
) -> reviews.Response:
    """Every error in one denial, or an admission with warnings.

    On UPDATE, validation ratchets as the API server's own schema validation does: a spec left as
    it was is not judged again, and an error the stored object has too becomes a warning. Rules
    tighten over releases; without this, an object admitted under older rules could not even have
    its finalizer removed, and its deletion would hang.
    """
    assert request.object is not None
    obj = _with_request_identity(request.object, request)
    old = request.old_object if request.operation == "UPDATE" else None
    errors = (
        list(validation.name_record_rules(obj, old))
        if old is not None or request.operation == "CREATE"
        else []
    )
    warnings: list[str] = []
    if old is None or obj.get("spec") != old.get("spec"):
        found, found_warnings, parsed, model = _verdict(obj, settings, memos)
        if found and old is not None:
            before = set(_verdict(old, settings, memos)[0])
            warnings += (
                f"{e} (the stored object has this too; fix it before changing it)"
                for e in found
                if e in before
            )
            found = tuple(e for e in found if e not in before)
        errors += found
        warnings += found_warnings
        if not errors and old is not None and parsed:
            memo = memos.restarts if memos is not None else None
            warnings += restarts.restart_warnings(old, obj, model, settings, memo)
    if not errors:
        response: reviews.Response = {"uid": request.uid, "allowed": True}
    else:
        ordered = tuple(sorted(dict.fromkeys(errors)))
        response = {"uid": request.uid, "allowed": False, "status": denial(ordered, _name(obj))}
    if warnings:
        response["warnings"] = _bounded(warnings)
    return response


def _bounded(warnings: list[str]) -> list[str]:
    """At most `MAX_CAUSES` warnings, each cut to `MAX_CAUSE_CHARS`, and how many more there are."""
    shown = [_cut(w) for w in warnings[:MAX_CAUSES]]
    if len(warnings) > MAX_CAUSES:
        shown.append(f"and {len(warnings) - MAX_CAUSES} more warnings")
    return shown


Judged = tuple[tuple[validation.FieldError, ...], tuple[str, ...], bool, ModelService | None]
"""(errors, warnings, whether the object parsed, the parsed model when it was built)."""


def _verdict(obj: Mapping[str, Any], settings: OperatorSettings, memos: Memos | None) -> Judged:
    judge: validation.SpecJudge | None = None
    if memos is not None:
        specs = memos.specs

        def judge(spec: Any) -> validation.JudgedSpec | None:
            # A spec that is not a JSON object has no verdict of its own: nothing to remember.
            if not isinstance(spec, dict):
                return None
            key = orjson.dumps(spec)
            remembered = specs.get(key)
            if remembered is not None:
                return validation.JudgedSpec(remembered, None)
            judged = validation.judge_spec(spec, settings)
            if judged is not None:
                specs.put(key, judged.verdict)
            return judged

    report = validation.validate(obj, settings, judge=judge)
    return report.errors, report.warnings, report.parsed, report.model


def wrong_kind(request: reviews.Request) -> reviews.Response:
    """A denial for an object this webhook does not handle, whatever the operation.

    Only a webhook configuration whose rules select other resources sends one. Allowing it would
    hide that mistake (and leave those resources unchecked by whatever was meant to check them), so
    the request is denied with 400 BadRequest in a normal answer: the API server shows the message
    to the user whatever the configuration's failurePolicy, where an HTTP error would be ignored
    under `Ignore`.
    """
    message = (
        f"this webhook admits {api.GROUP} {api.KIND} objects only, got {request.kind}; the webhook "
        "configuration's rules select resources it does not handle"
    )
    return {
        "uid": request.uid,
        "allowed": False,
        "status": {"status": "Failure", "code": 400, "reason": "BadRequest", "message": message},
    }


MAX_CAUSES = 50
"""Causes listed in one denial; the rest are counted ("and N more"), so a body of thousands of bad
entries cannot turn into a response many times its size."""
MAX_CAUSE_CHARS = 512
"""Characters of one cause's text kept (a quoted value can be as long as the request allows)."""


def denial(errors: tuple[validation.FieldError, ...], name: str) -> reviews.Status:
    """A metav1.Status listing the errors as `path: reason`, sorted by path: the first
    `MAX_CAUSES` of them, each cut to `MAX_CAUSE_CHARS`, and how many more there are."""
    forbidden = all(e.policy for e in errors)
    code, reason, verb = (403, "Forbidden", "forbidden") if forbidden else (422, "Invalid", "invalid")
    shown = errors[:MAX_CAUSES]
    texts = [_cut(str(e)) for e in shown]
    if len(errors) > MAX_CAUSES:
        texts.append(f"and {len(errors) - MAX_CAUSES} more")
    listed = ", ".join(texts)
    message = f'ModelService "{name[: formats.DNS1123_SUBDOMAIN_MAX]}" is {verb}: ' + (
        f"[{listed}]" if len(texts) > 1 else listed
    )
    return {
        "status": "Failure",
        "code": code,
        "reason": reason,
        "message": message,
        "details": {
            "name": name,
            "group": api.GROUP,
            "kind": api.KIND,
            "causes": [
                {"field": _cut(e.path), "message": _cut(e.message), "reason": e.reason} for e in shown
            ],
        },
    }


def _cut(text: str) -> str:
    return text if len(text) <= MAX_CAUSE_CHARS else text[: MAX_CAUSE_CHARS - 3] + "..."


def _with_request_identity(obj: dict[str, Any], request: reviews.Request) -> dict[str, Any]:
    """Fill name and namespace from the request where the object lacks them (validation only).

    The API server usually sets both before admission; a request that omits them must still get
    derived names checked against the namespace the object will live in.
    """
    meta = obj.get("metadata")
    if not isinstance(meta, Mapping):
        return obj
    fill = {
        k: v for k, v in (("name", request.name), ("namespace", request.namespace)) if v and not meta.get(k)
    }
    return {**obj, "metadata": {**meta, **fill}} if fill else obj


def _name(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata")
    name = meta.get("name") if isinstance(meta, Mapping) else None
    return name if isinstance(name, str) else ""


def verdict(answer: reviews.AdmissionReview) -> Verdict:
    """A short label for metrics and logs."""
    response = answer["response"]
    if not response["allowed"]:
        return "denied"
    if "patch" in response:
        return "patched"
    return "warned" if response.get("warnings") else "allowed"
