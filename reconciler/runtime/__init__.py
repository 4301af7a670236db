"""A small asyncio controller runtime, in controller-runtime's design.

``client`` talks to the API server, ``informer`` keeps a watched copy of one resource, ``queue``
holds the keys to work on, ``leader`` holds a Lease, ``events`` records Kubernetes Events,
``discovery`` maps kinds to resources, ``health`` and ``metrics`` serve the probes and Prometheus.
"""
