"""build_all: ensure order, the lifecycle matrix (children.md §4), naming and determinism."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from shared import names
from shared.builders import OWNED_KINDS, ChildRef, DesiredState, build_all, ref_of
from tests.builders.factories import PD_VARIANT, SETTINGS, make_ms, settings

Row = tuple[str, str]
"""(kind, name) of one child."""

DECODE = ("Deployment", "qwen3-0.6b-decode")
PREFILL = ("Deployment", "qwen3-0.6b-prefill")
SA = ("ServiceAccount", "qwen3-0-6b-epp")
CM = ("ConfigMap", "qwen3-0-6b-epp-config")
EPP_DEPLOY = ("Deployment", "qwen3-0-6b-epp")
SVC = ("Service", "qwen3-0-6b-epp")
SECRET = ("Secret", "qwen3-0-6b-epp-sa-metrics-reader-secret")
ROLE = ("Role", "qwen3-0-6b-epp")
BINDING = ("RoleBinding", "qwen3-0-6b-epp")
CROLE = ("ClusterRole", "llm-qwen3-0-6b-epp")
CBINDING = ("ClusterRoleBinding", "llm-qwen3-0-6b-epp")
LEGACY_POOL = ("InferencePool", "qwen3-0-6b-epp")
POOL = ("InferencePool", "qwen3-0.6b")
ROUTE = ("HTTPRoute", "qwen3-0.6b")
DR = ("DestinationRule", "qwen3-0-6b-epp")
PM_DECODE = ("PodMonitor", "qwen3-0.6b-decode")
PM_PREFILL = ("PodMonitor", "qwen3-0.6b-prefill")
SM = ("ServiceMonitor", "qwen3-0-6b-epp")
HPA_DECODE = ("HorizontalPodAutoscaler", "qwen3-0.6b-decode")
HPA_PREFILL = ("HorizontalPodAutoscaler", "qwen3-0.6b-prefill")
SO_DECODE = ("ScaledObject", "qwen3-0.6b-decode")
SO_PREFILL = ("ScaledObject", "qwen3-0.6b-prefill")
AUTOSCALERS = [HPA_DECODE, HPA_PREFILL, SO_DECODE, SO_PREFILL]

ALWAYS = [DECODE, SA, CM, EPP_DEPLOY, SVC, ROLE, BINDING, POOL]
EXPLICIT_POOL: dict[str, Any] = {"inferencePool": {"endpointPicker": {}}}


def _objects(state: DesiredState) -> list[Row]:
    return [(o["kind"], o["metadata"]["name"]) for o in state.objects]


def _absent(state: DesiredState) -> list[Row]:
    return [(r.kind, r.name) for r in state.absent]


def test_worked_example_children_in_ensure_order() -> None:
    state = build_all(make_ms(), SETTINGS)
    assert _objects(state) == [DECODE, SA, CM, EPP_DEPLOY, SVC, ROLE, BINDING, POOL, ROUTE, DR, PM_DECODE]
    assert _absent(state) == [PREFILL, SECRET, CROLE, CBINDING, LEGACY_POOL, PM_PREFILL, SM, *AUTOSCALERS]


def test_everything_on_builds_every_child_in_ensure_order() -> None:
    spec = PD_VARIANT | EXPLICIT_POOL | {"monitoring": {"podMonitor": {"enabled": True}}}
    state = build_all(make_ms(spec), SETTINGS)
    assert _objects(state) == [
        *(DECODE, PREFILL, SA, CM, EPP_DEPLOY, SVC, SECRET, ROLE, BINDING, CROLE, CBINDING),
        *(POOL, ROUTE, DR, PM_DECODE, PM_PREFILL, SM),
    ]
    assert _absent(state) == [LEGACY_POOL, *AUTOSCALERS]


def test_autoscalers_come_after_every_other_child_one_per_autoscaled_group() -> None:
    spec = PD_VARIANT | {
        "decode": {"autoscaling": {"maxReplicas": 4, "requestsWaiting": 5}},
        "prefill": {
            "autoscaling": {
                "engine": "keda",
                "maxReplicas": 2,
                "requestsWaiting": 5,
                "prometheusAddress": "http://p",
            }
        },
    }
    state = build_all(make_ms(spec), SETTINGS)
    assert _objects(state)[-2:] == [HPA_DECODE, SO_PREFILL]
    assert _absent(state)[-2:] == [HPA_PREFILL, SO_DECODE]


# One row per line of the lifecycle matrix: (spec, settings changes, child, wanted).
LIFECYCLE: list[tuple[str, dict[str, Any], dict[str, Any], Row, bool]] = [
    ("prefill set", {"prefill": {}}, {}, PREFILL, True),
    ("prefill absent", {}, {}, PREFILL, False),
    ("secret with pool, auth, istio", EXPLICIT_POOL, {}, SECRET, True),
    ("secret without pool", {}, {}, SECRET, False),
    ("secret with auth off", EXPLICIT_POOL, {"metrics_endpoint_auth": False}, SECRET, False),
    ("secret on gke", EXPLICIT_POOL, {"provider": "gke"}, SECRET, False),
    ("cluster role with pool and auth", EXPLICIT_POOL, {"provider": "gke"}, CROLE, True),
    ("cluster role binding with pool and auth", EXPLICIT_POOL, {}, CBINDING, True),
    ("cluster role without pool", {}, {}, CROLE, False),
    ("cluster role binding with auth off", EXPLICIT_POOL, {"metrics_endpoint_auth": False}, CBINDING, False),
    ("default route with a default gateway", {}, {}, ROUTE, True),
    (
        "explicit route without a default gateway",
        {"httpRoute": {"gatewayRef": {"name": "g"}}},
        {"default_gateway_name": ""},
        ROUTE,
        True,
    ),
    ("no route and no default gateway", {}, {"default_gateway_name": ""}, ROUTE, False),
    ("destination rule with istio", {}, {"provider": "istio"}, DR, True),
    ("destination rule with gke", {}, {"provider": "gke"}, DR, False),
    ("destination rule with none", {}, {"provider": "none"}, DR, False),
    ("decode pod monitor without monitoring", {}, {}, PM_DECODE, True),
    ("decode pod monitor enabled", {"monitoring": {"podMonitor": {"enabled": True}}}, {}, PM_DECODE, True),
    ("decode pod monitor disabled", {"monitoring": {"podMonitor": {"enabled": False}}}, {}, PM_DECODE, False),
    ("prefill pod monitor with prefill", {"prefill": {}}, {}, PM_PREFILL, True),
    (
        "prefill pod monitor disabled",
        {"prefill": {}, "monitoring": {"podMonitor": {}}},
        {},
        PM_PREFILL,
        False,
    ),
    (
        "service monitor enabled with pool",
        EXPLICIT_POOL | {"monitoring": {"podMonitor": {"enabled": True}}},
        {},
        SM,
        True,
    ),
    ("service monitor without explicit enable", EXPLICIT_POOL, {}, SM, False),
    ("hpa with autoscaling", {"decode": {"autoscaling": {"maxReplicas": 2}}}, {}, HPA_DECODE, True),
    ("no hpa without autoscaling", {}, {}, HPA_DECODE, False),
    (
        "no hpa when keda scales",
        {"decode": {"autoscaling": {"engine": "keda", "maxReplicas": 2}}},
        {},
        HPA_DECODE,
        False,
    ),
    (
        "scaled object with engine keda",
        {"decode": {"autoscaling": {"engine": "keda", "maxReplicas": 2}}},
        {},
        SO_DECODE,
        True,
    ),
    (
        "no scaled object with engine hpa",
        {"decode": {"autoscaling": {"maxReplicas": 2}}},
        {},
        SO_DECODE,
        False,
    ),
    (
        "no prefill hpa without prefill",
        {"decode": {"autoscaling": {"maxReplicas": 2}}},
        {},
        HPA_PREFILL,
        False,
    ),
    ("prefill hpa", {"prefill": {"autoscaling": {"maxReplicas": 2}}}, {}, HPA_PREFILL, True),
]


@pytest.mark.parametrize(
    ("spec", "changes", "child", "wanted"), [r[1:] for r in LIFECYCLE], ids=[r[0] for r in LIFECYCLE]
)
def test_lifecycle_matrix(spec: dict[str, Any], changes: dict[str, Any], child: Row, wanted: bool) -> None:
    state = build_all(make_ms(spec), settings(**changes))
    assert (child in _objects(state), child in _absent(state)) == (wanted, not wanted)


@pytest.mark.parametrize(
    ("spec", "changes"),
    [
        ({}, {}),
        (
            PD_VARIANT | EXPLICIT_POOL,
            {"provider": "gke", "metrics_endpoint_auth": False, "default_gateway_name": ""},
        ),
    ],
    ids=["defaults", "everything toggled"],
)
def test_always_present_children_and_the_legacy_pool_is_always_absent(
    spec: dict[str, Any], changes: dict[str, Any]
) -> None:
    state = build_all(make_ms(spec), settings(**changes))
    assert set(ALWAYS) <= set(_objects(state))
    assert LEGACY_POOL in _absent(state)


def test_absent_refs_carry_namespace_except_for_cluster_scoped_kinds() -> None:
    refs = {r.kind: r for r in build_all(make_ms(), SETTINGS).absent}
    assert refs["ClusterRole"] == ChildRef(
        "rbac.authorization.k8s.io/v1", "ClusterRole", "llm-qwen3-0-6b-epp", None
    )
    assert refs["Secret"] == ChildRef("v1", "Secret", "qwen3-0-6b-epp-sa-metrics-reader-secret", "llm")
    assert refs["ServiceMonitor"] == ChildRef(
        "monitoring.coreos.com/v1", "ServiceMonitor", "qwen3-0-6b-epp", "llm"
    )


def test_build_all_is_deterministic_and_leaves_its_input_alone() -> None:
    ms = make_ms(PD_VARIANT | EXPLICIT_POOL)
    before = copy.deepcopy(ms.to_manifest())
    first, second = build_all(ms, SETTINGS), build_all(ms, SETTINGS)
    assert first == second
    assert ms.to_manifest() == before
    assert ms.spec.engine.image is None


def test_image_defaults_are_applied_before_building() -> None:
    state = build_all(
        make_ms(PD_VARIANT | EXPLICIT_POOL), settings(default_engine_image="e:2", default_epp_image="p:2")
    )
    images = {
        o["metadata"]["name"]: [c["image"] for c in o["spec"]["template"]["spec"]["containers"]]
        for o in state.objects
        if o["kind"] == "Deployment"
    }
    assert images == {"qwen3-0.6b-decode": ["e:2"], "qwen3-0.6b-prefill": ["e:2"], "qwen3-0-6b-epp": ["p:2"]}


@pytest.mark.parametrize(
    ("name", "expected_epp"),
    [
        ("qwen3-0-6b-fp8-dynamic", "qwen3-0-6b-fp8-dynamic-epp"),
        ("qwen3-0.6b-fp8-dynamic", "qwen3-0-6b-fp8-dynamic-epp"),
        ("a..b", "a-b-epp"),
        ("0.6b", "m-0-6b-epp"),
        ("9", "m-9-epp"),
    ],
    ids=[
        "already a label",
        "dots become dashes",
        "runs collapse",
        "leading digit gets a prefix",
        "single digit",
    ],
)
def test_epp_family_names_use_the_sanitized_base(name: str, expected_epp: str) -> None:
    state = build_all(make_ms(name=name), SETTINGS)
    epp_named = {
        o["kind"]: o["metadata"]["name"]
        for o in state.objects
        if o["kind"] in ("Service", "Role", "DestinationRule")
    }
    assert epp_named == {"Service": expected_epp, "Role": expected_epp, "DestinationRule": expected_epp}
    assert (
        next(o for o in state.objects if o["kind"] == "ConfigMap")["metadata"]["name"]
        == f"{expected_epp}-config"
    )
    assert next(o for o in state.objects if o["kind"] == "InferencePool")["metadata"]["name"] == name


@pytest.mark.parametrize(
    ("annotation", "expected_epp"),
    [("qwen-recorded", "qwen-recorded-epp"), ("Not_A_Label", "qwen3-0-6b-epp")],
    ids=["recorded base name wins", "invalid recorded value is ignored"],
)
def test_recorded_base_name_annotation(annotation: str, expected_epp: str) -> None:
    ms = make_ms(annotations={names.DNS1035_NAME_ANNOTATION: annotation})
    state = build_all(ms, SETTINGS)
    service = next(o for o in state.objects if o["kind"] == "Service")
    assert service["metadata"]["name"] == expected_epp
    assert ("InferencePool", expected_epp) in _absent(state)


def test_legacy_pool_that_collides_with_the_pool_is_not_marked_absent() -> None:
    ms = make_ms(name="foo-epp", annotations={names.DNS1035_NAME_ANNOTATION: "foo"})
    state = build_all(ms, SETTINGS)
    assert ("InferencePool", "foo-epp") in _objects(state)
    assert ("InferencePool", "foo-epp") not in _absent(state)


@pytest.mark.parametrize(
    ("manifest", "expected"),
    [
        (
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "n"}},
            ChildRef("v1", "Service", "s", "n"),
        ),
        (
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}},
            ChildRef("v1", "Service", "s", ""),
        ),
        (
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "c"}},
            ChildRef("rbac.authorization.k8s.io/v1", "ClusterRole", "c", None),
        ),
    ],
    ids=["namespaced", "namespaced without namespace (offline render)", "cluster-scoped"],
)
def test_ref_of(manifest: dict[str, Any], expected: ChildRef) -> None:
    assert ref_of(manifest) == expected


def test_every_object_ref_is_unique() -> None:
    spec = PD_VARIANT | EXPLICIT_POOL | {"monitoring": {"podMonitor": {"enabled": True}}}
    state = build_all(make_ms(spec), SETTINGS)
    refs = [ref_of(o) for o in state.objects] + list(state.absent)
    assert len(refs) == len(set(refs))


def test_owned_kinds_list_each_child_kind_once() -> None:
    assert OWNED_KINDS == (
        ("apps/v1", "Deployment"),
        ("v1", "ServiceAccount"),
        ("v1", "ConfigMap"),
        ("v1", "Service"),
        ("v1", "Secret"),
        ("rbac.authorization.k8s.io/v1", "Role"),
        ("rbac.authorization.k8s.io/v1", "RoleBinding"),
        ("rbac.authorization.k8s.io/v1", "ClusterRole"),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
        ("inference.networking.k8s.io/v1", "InferencePool"),
        ("gateway.networking.k8s.io/v1", "HTTPRoute"),
        ("networking.istio.io/v1beta1", "DestinationRule"),
        ("monitoring.coreos.com/v1", "PodMonitor"),
        ("monitoring.coreos.com/v1", "ServiceMonitor"),
        ("autoscaling/v2", "HorizontalPodAutoscaler"),
        ("keda.sh/v1alpha1", "ScaledObject"),
    )
