"""The ModelService reconciler: an asyncio controller in controller-runtime's design.

``kube`` talks to the API server, ``informer``/``cache`` keep watched copies of ModelServices and
their children, ``queue`` and ``controller`` run the workers, ``reconcile`` and ``apply`` converge
one ModelService, ``leader`` holds the Lease, ``manager`` wires them, ``__main__`` runs it.
"""
