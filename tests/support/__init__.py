"""Reusable test support: schema conformance checks for generated Kubernetes objects."""
