"""Availability: two webhook replicas behind one Service, two reconcilers electing a leader.

SIGKILL takes down the webhook replica the API server is connected to and the reconciler that
holds the Lease, as a node failure would; a ModelService created afterwards must still be
admitted (by the other replica) and become Ready (once the standby takes the Lease over).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from demo import topology
from demo.waiting import wait_for
from reconciler.config import LEASE_NAME
from shared import names
from tests.e2e.system import WAIT_SECONDS, System, example, running_system

# Short lease timings keep the takeover within a couple of seconds.
ELECTION = ["--lease-duration=2", "--renew-deadline=1.5", "--retry-period=0.2"]


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    work_dir = tmp_path_factory.mktemp("availability")
    with running_system(work_dir, webhooks=2, reconcilers=2, reconciler_args=ELECTION) as running:
        yield running


def lease_holder(system: System) -> str:
    lease = system.get_child("coordination.k8s.io/v1", "Lease", LEASE_NAME, topology.SERVICE_NAMESPACE)
    return str(((lease or {}).get("spec") or {}).get("holderIdentity") or "")


def leader(system: System) -> topology.Reconciler:
    """The reconciler process holding the Lease (its identity starts with its POD_NAME)."""
    holder = wait_for(lambda: lease_holder(system) or None, timeout=WAIT_SECONDS, what="a Lease holder")
    return next(r for r in system.reconcilers if holder.startswith(f"{r.child.name}_"))


def busiest_webhook(system: System) -> topology.Webhook:
    """The replica that has served the most connections (so killing it cuts a live connection)."""
    served = {w.address: system.proxy.connections[w.address] for w in system.webhooks}
    busiest = max(system.webhooks, key=lambda w: served[w.address])
    assert served[busiest.address] > 0, f"no replica served a connection yet: {served}"
    return busiest


def test_killing_a_webhook_replica_and_the_leader_keeps_admission_and_reconciliation_going(
    system: System,
) -> None:
    system.apply(example("minimal.yaml", "before-kill")).check()
    system.wait_ready("before-kill")
    old_leader, webhook = leader(system), busiest_webhook(system)

    webhook.child.kill()
    old_leader.child.kill()
    system.apply(example("minimal.yaml", "after-kill")).check()

    obj = system.wait_ready("after-kill")
    assert obj["metadata"]["annotations"][names.DNS1035_NAME_ANNOTATION] == "after-kill"
    new_leader = leader(system)
    assert new_leader is not old_leader and new_leader.child.alive()
    assert system.wait_ready("before-kill")["status"]["phase"] == "Ready"


def test_a_replacement_replica_takes_traffic_after_the_other_one_dies(system: System) -> None:
    survivors = [w for w in system.webhooks if w.child.alive()]
    replacement = system.add_webhook("webhook-replacement")
    for survivor in survivors:
        survivor.child.kill()
    system.update_endpoints()

    system.apply(example("minimal.yaml", "after-replacement")).check()

    system.wait_ready("after-replacement")
    assert system.proxy.connections[replacement.address] > 0
