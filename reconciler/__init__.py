"""The ModelService reconciler: the ModelService controller on a small asyncio controller runtime.

``runtime`` is the generic part (client, informers, cache, queue, workers, leader election, events;
it imports nothing from the shared package or from the controller). The controller is the rest:
``watches`` says what is cached and which ModelService each object concerns, ``reconcile`` and
``apply`` converge one ModelService (``pods`` is what they read of its serving pods), ``controller``
holds what reconciles share and what one reconcile did, ``manager`` wires it all together, and
``config`` and ``__main__`` run it.
"""
