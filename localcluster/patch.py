"""The three PATCH flavours the API server accepts: JSON Patch, JSON merge patch, strategic merge.

Strategic merge patch is what `kubectl apply` sends for built-in kinds. The real server drives it
from Go struct tags; this server knows the merge keys of the list fields that matter in practice
(containers, initContainers, ports, env, volumes, volumeMounts, ...) and merges every other list by
replacement, like a JSON merge patch. It honours the `$patch` (delete/replace/merge),
`$retainKeys`, `$deleteFromPrimitiveList/<field>` and `$setElementOrder/<field>` directives.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch

from localcluster import errors

Manifest = dict[str, Any]

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"

# List fields merged by key under strategic merge patch (field name -> merge key).
MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "imagePullSecrets": "name",
    "ownerReferences": "uid",
    "conditions": "type",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
    "tolerations": "key",
    "volumeDevices": "devicePath",
}
# Primitive lists that strategic merge patch unions instead of replacing.
MERGED_PRIMITIVE_LISTS = {"finalizers"}


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch; returns a new value and leaves both inputs untouched."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def json_patch(target: Manifest, operations: Any) -> Manifest:
    """RFC 6902 JSON Patch; malformed patches are 400, failing operations 422 (as upstream)."""
    if not isinstance(operations, list):
        raise errors.bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    try:
        patch = jsonpatch.JsonPatch(operations)
    except (jsonpatch.InvalidJsonPatch, TypeError, KeyError) as exc:
        raise errors.bad_request(str(exc)) from exc
    try:
        result = patch.apply(target)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError, KeyError) as exc:
        raise errors.StatusError(
            422, "Invalid", f"the server rejected our request due to an error in our request: {exc}"
        ) from exc
    if not isinstance(result, dict):
        raise errors.StatusError(422, "Invalid", "the patch replaced the whole object with a non-object")
    return result


def _merge_key(field: str, items: list[Any]) -> str | None:
    if field == "ports":
        # Container ports merge on containerPort, Service ports on port.
        probe = next((i for i in items if isinstance(i, dict)), {})
        return "containerPort" if "containerPort" in probe else "port"
    return MERGE_KEYS.get(field)


def strategic_merge(target: Any, patch: Any) -> Any:
    """Apply a strategic merge patch to `target` (not modified) and return the result."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    out = dict(target) if isinstance(target, dict) else {}
    retain = patch.get("$retainKeys")
    for key, value in patch.items():
        if key.startswith("$setElementOrder/") or key in ("$retainKeys", "$patch"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            out[field] = [v for v in out.get(field) or () if v not in value]
            continue
        if value is None:
            out.pop(key, None)
        elif isinstance(value, list):
            out[key] = _merge_list(key, out.get(key), value)
        elif isinstance(value, dict):
            merged = strategic_merge(out.get(key), value)
            if merged is None:
                out.pop(key, None)
            else:
                out[key] = merged
        else:
            out[key] = value
    if isinstance(retain, list):
        out = {k: v for k, v in out.items() if k in retain}
    return out


def _merge_list(field: str, existing: Any, patch: list[Any]) -> list[Any]:
    current: list[Any] = existing if isinstance(existing, list) else []
    if field in MERGED_PRIMITIVE_LISTS:
        return current + [v for v in patch if v not in current]
    key = _merge_key(field, patch + current)
    if key is None or not all(isinstance(i, dict) for i in patch):
        if any(isinstance(i, dict) and i.get("$patch") == "replace" for i in patch):
            return [copy.deepcopy(i) for i in patch if not (isinstance(i, dict) and "$patch" in i)]
        return list(copy.deepcopy(patch))
    if any(i.get("$patch") == "replace" for i in patch):
        return [copy.deepcopy(i) for i in patch if "$patch" not in i]
    out = list(current)
    for item in patch:
        index = next(
            (n for n, cur in enumerate(out) if isinstance(cur, dict) and cur.get(key) == item.get(key)),
            None,
        )
        if item.get("$patch") == "delete":
            if index is not None:
                del out[index]
        elif index is None:
            out.append(strategic_merge({}, item))
        else:
            out[index] = strategic_merge(out[index], item)
    return out


def apply(target: Manifest, body: Any, content_type: str, strategic_allowed: bool) -> Manifest:
    """Dispatch on the request's Content-Type; unknown types and SMP on custom kinds are 415."""
    if content_type == MERGE:
        if not isinstance(body, dict):
            raise errors.bad_request("merge patch must be a JSON object")
        result = merge_patch(target, body)
    elif content_type == JSON_PATCH:
        result = json_patch(target, body)
    elif content_type == STRATEGIC and strategic_allowed:
        if not isinstance(body, dict):
            raise errors.bad_request("strategic merge patch must be a JSON object")
        result = strategic_merge(target, body)
    elif content_type == STRATEGIC:
        raise errors.StatusError(
            415,
            "UnsupportedMediaType",
            "the body of the request was in an unknown format - accepted media types include: "
            "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
        )
    else:
        raise errors.unsupported_media_type(content_type)
    if not isinstance(result, dict):
        raise errors.bad_request("the patch did not produce an object")
    return result
