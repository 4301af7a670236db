"""The operator's RBAC installed on a real control plane, and credentials of its ServiceAccounts.

`install(cp)` applies what `kubectl apply -k manifests/base` would create for access control (the
operator namespace, ServiceAccounts, Roles, ClusterRoles and their bindings) and nothing else: the
webhook configurations would send every ModelService write to a webhook that does not run here,
and the workloads would only start pods nobody looks at. The CRDs are installed with the
control plane.

`token(cp, namespace, name)` asks the TokenRequest API for a bound token of a ServiceAccount, the
credential a pod of that ServiceAccount gets mounted. `access_review` and `reviewed` ask the API
server's own authorizer a question on a token holder's behalf (SelfSubjectAccessReview), for the
checks the server makes inside a request rather than on it.
"""

from __future__ import annotations

import copy

import yaml

from reconciler.runtime.client import Client, Resource
from testbed import ControlPlane
from tests.manifests import layout
from tests.manifests.layout import Manifest
from tests.manifests.rbac_rules import Request

RBAC_KINDS = frozenset(
    {"Namespace", "ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"}
)
RECONCILER_SERVICE_ACCOUNT = "modelservice-reconciler"
FIELD_MANAGER = "rbac-coverage-test"
TOKEN_SECONDS = 3600
SELF_SUBJECT_ACCESS_REVIEWS = Resource(
    "authorization.k8s.io", "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews", False
)
SELF_SUBJECT_REVIEWS = Resource(
    "authentication.k8s.io", "v1", "SelfSubjectReview", "selfsubjectreviews", False
)


def access_control_objects() -> list[Manifest]:
    """The access-control objects of the base install, as kustomize renders them."""
    return [o for o in layout.render(layout.MANIFESTS / "base") if o["kind"] in RBAC_KINDS]


def install(cp: ControlPlane, objects: list[Manifest] | None = None) -> list[Manifest]:
    """Server-side apply `objects` (the base install's access control by default) as the
    administrator; the manifests win over any earlier field owner, so the cluster holds exactly
    what they say."""
    objects = access_control_objects() if objects is None else objects
    cp.kubectl(
        "apply",
        "--server-side",
        "--force-conflicts",
        f"--field-manager={FIELD_MANAGER}",
        "-f",
        "-",
        stdin=yaml.safe_dump_all(objects, sort_keys=False),
    )
    return objects


def find(objects: list[Manifest], kind: str, name: str) -> Manifest:
    """A deep copy of the one object of `kind` named `name` (safe to modify)."""
    return copy.deepcopy(layout.find(objects, kind, name))


def token(cp: ControlPlane, namespace: str, name: str) -> str:
    """A fresh bound token of ServiceAccount `namespace/name` (TokenRequest), valid for an hour."""
    return cp.service_account_token(namespace, name, TOKEN_SECONDS)


def service_account_user(namespace: str, name: str) -> str:
    """The user name the API server gives a ServiceAccount's tokens."""
    return f"system:serviceaccount:{namespace}:{name}"


async def who_am_i(client: Client) -> str:
    """The user name the API server authenticates `client`'s credentials as."""
    review = await client.create(
        SELF_SUBJECT_REVIEWS, {"apiVersion": SELF_SUBJECT_REVIEWS.api_version, "kind": "SelfSubjectReview"}
    )
    user: str = review["status"]["userInfo"]["username"]
    return user


def access_review(request: Request, namespace: str = "") -> Manifest:
    """The SelfSubjectAccessReview asking whether the caller may make `request` in `namespace`."""
    if request.path:
        spec: Manifest = {"nonResourceAttributes": {"path": request.path, "verb": request.verb}}
    else:
        resource, _, subresource = request.resource.partition("/")
        attributes = {
            "namespace": namespace,
            "verb": request.verb,
            "group": request.group,
            "resource": resource,
            "subresource": subresource,
            "name": request.name,
        }
        spec = {"resourceAttributes": {k: v for k, v in attributes.items() if v}}
    return {
        "apiVersion": SELF_SUBJECT_ACCESS_REVIEWS.api_version,
        "kind": "SelfSubjectAccessReview",
        "spec": spec,
    }


async def reviewed(client: Client, request: Request, namespace: str = "") -> bool:
    """Whether the API server's authorizer allows `client`'s user to make `request`."""
    answer = await client.create(SELF_SUBJECT_ACCESS_REVIEWS, access_review(request, namespace))
    return bool(answer["status"].get("allowed"))
