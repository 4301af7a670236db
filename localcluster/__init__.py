"""An in-memory Kubernetes API server for tests, benchmarks and the demo.

It speaks the real wire protocol (discovery, CRUD, the three patch types, list/watch with
resourceVersions, bookmarks and 410 Gone, the status subresource, finalizers and garbage
collection, CRDs with structural schemas, and the admission webhook chain), so the official
`kubernetes` client and `kubectl` work against it unchanged. See `localcluster/README.md`.
"""

from localcluster.cluster import LocalCluster
from localcluster.crds import third_party_crds
from localcluster.errors import StatusError
from localcluster.faults import FaultRule, Faults

__all__ = ["FaultRule", "Faults", "LocalCluster", "StatusError", "third_party_crds"]
