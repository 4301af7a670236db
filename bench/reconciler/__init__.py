"""Benchmark of the reconciler process against the local API server (see ``run``)."""
