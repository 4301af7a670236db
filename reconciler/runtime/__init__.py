"""A small asyncio controller runtime, in controller-runtime's design; nothing here knows ModelServices.

``client`` talks to the API server, ``informer`` keeps a watched copy of one resource, ``cache``
holds the informers and maps every event to the key of an object to reconcile (the controller
says how, per kind), ``queue`` holds those keys and ``controller`` runs the workers over them,
``ratelimit`` paces the client and the queue's retries, ``leader`` holds a Lease, ``events``
records Kubernetes Events, ``discovery`` maps kinds to resources, ``managedfields`` reads what a
field manager owns, ``health``, ``metrics`` and ``logcontext`` serve probes, Prometheus and logs.
"""
