"""Throughput and memory benchmark of the local Kubernetes API server (`python -m bench.localcluster`)."""
