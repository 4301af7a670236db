"""AdmissionReview (`admission.k8s.io/v1`) shapes and the strict reading of a request.

Two kinds of failure are kept apart here: a body that is not a usable AdmissionReview is a *bad
request* (`BadRequest`, answered with HTTP 400), while an AdmissionReview that carries an invalid
ModelService is a normal request that gets a denial. Only the first is decided in this module.
"""

from __future__ import annotations

import typing
from typing import Any, Literal, NamedTuple, NotRequired, TypedDict

Operation = Literal["CREATE", "UPDATE", "DELETE", "CONNECT"]
OPERATIONS: frozenset[str] = frozenset({"CREATE", "UPDATE", "DELETE", "CONNECT"})
API_VERSIONS = frozenset({"admission.k8s.io/v1", "admission.k8s.io/v1beta1"})
DEFAULT_API_VERSION = "admission.k8s.io/v1"


class StatusCause(TypedDict):
    field: str
    message: str
    reason: str


class StatusDetails(TypedDict, total=False):
    name: str
    group: str
    kind: str
    causes: list[StatusCause]


class Status(TypedDict):
    status: Literal["Failure"]
    code: int
    reason: str
    message: str
    details: NotRequired[StatusDetails]


class Response(TypedDict):
    uid: str
    allowed: bool
    status: NotRequired[Status]
    patchType: NotRequired[Literal["JSONPatch"]]
    patch: NotRequired[str]
    warnings: NotRequired[list[str]]


class AdmissionReview(TypedDict):
    apiVersion: str
    kind: Literal["AdmissionReview"]
    response: Response


class BadRequest(Exception):
    """The body is not an AdmissionReview this webhook can answer; `uid` is echoed when known."""

    def __init__(self, message: str, uid: str = "", api_version: str = DEFAULT_API_VERSION) -> None:
        super().__init__(message)
        self.message = message
        self.uid = uid
        self.api_version = api_version


class Kind(NamedTuple):
    """`request.kind`: the group, version and kind of the object under review.

    Named tuples, here and in `Request`: built on every request, where a frozen dataclass's
    `__init__` (one `object.__setattr__` per field) cost several microseconds.
    """

    group: str
    version: str
    kind: str

    def __str__(self) -> str:
        return f"{self.group}/{self.version} {self.kind}" if self.group else f"{self.version} {self.kind}"


class Request(NamedTuple):
    """The parts of an AdmissionRequest the webhook uses."""

    api_version: str
    uid: str
    kind: Kind
    operation: Operation
    name: str
    namespace: str
    sub_resource: str
    dry_run: bool
    object: dict[str, Any] | None
    old_object: dict[str, Any] | None

    @property
    def passes_untouched(self) -> bool:
        """DELETE, CONNECT and subresource writes (status) are not ours to judge."""
        return self.operation in ("DELETE", "CONNECT") or bool(self.sub_resource)


def parse(body: Any) -> Request:
    """Read an AdmissionReview; raise BadRequest with the first reason it is unusable."""
    if not isinstance(body, dict):
        raise BadRequest(f"body must be a JSON object (an AdmissionReview), got {_json_type(body)}")
    api_version = body.get("apiVersion")
    if not isinstance(api_version, str) or api_version not in API_VERSIONS:
        raise BadRequest(f"apiVersion must be admission.k8s.io/v1, got {_short(api_version)}")
    if body.get("kind") != "AdmissionReview":
        raise BadRequest(f"kind must be AdmissionReview, got {_short(body.get('kind'))}", "", api_version)
    request = body.get("request")
    if not isinstance(request, dict):
        raise BadRequest("request must be an object", "", api_version)
    uid = request.get("uid")
    if not isinstance(uid, str) or not uid:
        raise BadRequest("request.uid must be a non-empty string", "", api_version)
    kind = _kind(request.get("kind"))
    if kind is None:
        raise BadRequest(
            f"request.kind must be an object with group, version and kind, got {_short(request.get('kind'))}",
            uid,
            api_version,
        )
    operation = request.get("operation")
    if not isinstance(operation, str) or operation not in OPERATIONS:
        raise BadRequest(
            f"request.operation must be one of CREATE, UPDATE, DELETE, CONNECT, got {_short(operation)}",
            uid,
            api_version,
        )
    parsed = Request(
        api_version=api_version,
        uid=uid,
        kind=kind,
        operation=typing.cast(Operation, operation),
        name=_str(request.get("name")),
        namespace=_str(request.get("namespace")),
        sub_resource=_str(request.get("subResource")),
        dry_run=request.get("dryRun") is True,
        object=_obj(request.get("object")),
        old_object=_obj(request.get("oldObject")),
    )
    if parsed.passes_untouched:
        return parsed
    if parsed.object is None:
        raise BadRequest(f"request.object must be an object for {operation}", uid, api_version)
    if operation == "UPDATE" and parsed.old_object is None:
        raise BadRequest("request.oldObject must be an object for UPDATE", uid, api_version)
    return parsed


def _kind(value: Any) -> Kind | None:
    if not isinstance(value, dict):
        return None
    group, version, kind = value.get("group", ""), value.get("version"), value.get("kind")
    if not (isinstance(group, str) and isinstance(version, str) and isinstance(kind, str) and kind):
        return None
    return Kind(group, version, kind)


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _obj(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "an array"}.get(
        type(value), type(value).__name__
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def bad_request_review(error: BadRequest) -> AdmissionReview:
    """The AdmissionReview sent with HTTP 400: allowed=false, code 400, reason BadRequest."""
    return {
        "apiVersion": error.api_version,
        "kind": "AdmissionReview",
        "response": {
            "uid": error.uid,
            "allowed": False,
            "status": {"status": "Failure", "code": 400, "reason": "BadRequest", "message": error.message},
        },
    }
