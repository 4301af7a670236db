"""A ModelService's life through kubectl: create, update (prefill on and off), delete.

Each test checks the state of the world through the official client: the stored object, every
child against what `build_all` says it should be, and that nothing is left after deletion.
"""

from __future__ import annotations

from typing import Any

from demo.views import OWNED_KINDS
from demo.waiting import wait_for
from reconciler.reconcile import FINALIZER
from shared import api, epp_config, labels, names
from shared.api import ModelService
from shared.builders import build_all
from shared.builders.epp_deployment import CONFIG_HASH_ANNOTATION
from shared.builders.meta import CLUSTER_SCOPED_KINDS
from shared.settings import OperatorSettings
from tests.e2e.system import WAIT_SECONDS, System, example

PREFILL = {"replicas": 1}
ROUTING_PROXY = {"connector": "nixlv2", "targetPort": 8200}


def is_subset(desired: Any, live: Any) -> bool:
    """Every field of `desired` has the same value in `live` (the API server adds defaults)."""
    if isinstance(desired, dict):
        return isinstance(live, dict) and all(k in live and is_subset(v, live[k]) for k, v in desired.items())
    if isinstance(desired, list):
        return (
            isinstance(live, list)
            and len(desired) == len(live)
            and all(is_subset(d, x) for d, x in zip(desired, live, strict=True))
        )
    return bool(desired == live)


def key(obj: dict[str, Any]) -> tuple[str, str]:
    return obj["kind"], obj["metadata"]["name"]


def test_create_stores_defaults_builds_every_child_and_becomes_ready(system: System) -> None:
    system.apply(example("minimal.yaml", "created")).check()

    ready = system.wait_ready("created")

    assert ready["spec"]["engine"]["image"] == OperatorSettings().default_engine_image
    assert ready["metadata"]["annotations"][names.DNS1035_NAME_ANNOTATION] == "created"
    desired = build_all(ModelService.model_validate(ready), OperatorSettings()).objects
    live = {key(child): child for child in system.children("created")}
    assert sorted(live) == sorted(key(d) for d in desired)
    differing = [key(d) for d in desired if not is_subset(d, live[key(d)])]
    assert differing == [], "children differ from build_all"


def _epp_state(system: System, ms: ModelService) -> tuple[list[str], str]:
    """(ConfigMap keys, config hash on the EPP pod template)."""
    config = system.get_child("v1", "ConfigMap", names.epp_configmap_name(ms)) or {}
    epp = system.get_child("apps/v1", "Deployment", names.epp_name(ms)) or {}
    annotations = epp.get("spec", {}).get("template", {}).get("metadata", {}).get("annotations") or {}
    return sorted(config.get("data") or {}), str(annotations.get(CONFIG_HASH_ANNOTATION, ""))


def _wait_children(system: System, name: str, prefill: bool) -> ModelService:
    """Until prefill Deployment, prefill PodMonitor and EPP config match `prefill`; the parsed object."""
    obj = system.wait_ready(name)
    ms = ModelService.model_validate(obj)
    wanted = (sorted(epp_config.epp_config_data(ms)), epp_config.config_map_hash(ms))
    refs = [("apps/v1", "Deployment", names.prefill_name(ms))]
    refs.append(("monitoring.coreos.com/v1", "PodMonitor", names.pod_monitor_name(ms, "prefill")))

    def check() -> bool | None:
        present = [system.get_child(*ref) is not None for ref in refs]
        return True if present == [prefill, prefill] and _epp_state(system, ms) == wanted else None

    wait_for(check, timeout=WAIT_SECONDS, what=f"children of {name} with prefill={prefill}")
    return ms


def test_enabling_then_removing_prefill_adds_then_removes_its_children(system: System) -> None:
    plain = example("minimal.yaml", "updated")
    system.apply(plain).check()
    before = _epp_state(system, _wait_children(system, "updated", prefill=False))
    assert before[0] == [epp_config.DEFAULT_PLUGINS_FILE]

    system.apply(example("minimal.yaml", "updated", prefill=PREFILL, routingProxy=ROUTING_PROXY)).check()
    during = _epp_state(system, _wait_children(system, "updated", prefill=True))
    assert during[0] == [epp_config.PD_CONFIG_FILE]
    assert during[1] != before[1], "the EPP pods must roll when their config changes"

    system.apply(plain).check()
    after = _epp_state(system, _wait_children(system, "updated", prefill=False))
    assert after == before


def _leftovers(system: System, name: str) -> list[str]:
    """Every object anywhere carrying the ownership label of `name`, plus the ModelService itself."""
    found = [f"{api.KIND}/{name}"] if system.get(name) is not None else []
    for api_version, kind in OWNED_KINDS:
        for obj in system.kube.list(api_version, kind, None, f"{labels.OWNER_NAME}={name}"):
            found.append(f"{kind}/{obj['metadata']['name']}")
    return found


def test_delete_leaves_nothing_behind_including_cluster_rbac(system: System) -> None:
    system.apply(example("pd-disaggregation.yaml", "deleted")).check()
    ready = system.wait_ready("deleted")
    assert ready["metadata"].get("finalizers") == [FINALIZER], "cluster RBAC is cleaned up by the finalizer"
    ms = ModelService.model_validate(ready)
    cluster_rbac = [("rbac.authorization.k8s.io/v1", kind) for kind in sorted(CLUSTER_SCOPED_KINDS)]
    rbac_name = names.epp_cluster_rbac_name(ms)
    assert all(system.get_child(v, k, rbac_name, None) is not None for v, k in cluster_rbac)
    assert len(_leftovers(system, "deleted")) > 10

    system.kubectl("delete", "modelservice", "deleted", "-n", "e2e", "--timeout=30s").check()

    wait_for(
        lambda: True if not _leftovers(system, "deleted") else None,
        timeout=WAIT_SECONDS,
        what="every object of the deleted ModelService to be removed",
        explain=lambda: ", ".join(_leftovers(system, "deleted")),
    )
    assert [system.get_child(v, k, rbac_name, None) for v, k in cluster_rbac] == [None, None]
