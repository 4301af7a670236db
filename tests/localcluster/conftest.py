"""Shared helpers for the local API server tests: official clients bound to `local_cluster`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import kubernetes.aio.client as k
import pytest
from kubernetes.aio.client.exceptions import ApiException

from localcluster import LocalCluster
from localcluster.testing import async_api_client

Manifest = dict[str, Any]


@pytest.fixture
async def api(local_cluster: LocalCluster) -> AsyncIterator[k.ApiClient]:
    async with async_api_client(local_cluster) as client:
        yield client


# The official client accepts plain dicts as bodies at runtime, while its annotations ask for its
# model classes; the API fixtures are typed Any so tests can send manifests as dicts.


@pytest.fixture
def core(api: k.ApiClient) -> Any:
    return k.CoreV1Api(api)


@pytest.fixture
def apps(api: k.ApiClient) -> Any:
    return k.AppsV1Api(api)


@pytest.fixture
def custom(api: k.ApiClient) -> Any:
    return k.CustomObjectsApi(api)


@pytest.fixture
def crds(api: k.ApiClient) -> Any:
    return k.ApiextensionsV1Api(api)


def status_of(exc: ApiException) -> Manifest:
    """The `Status` body of a failed call."""
    body: Manifest = json.loads(exc.body or "{}")
    return body


def deployment(name: str = "web", replicas: int = 1, labels: dict[str, str] | None = None) -> Manifest:
    selector = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": selector},
                "spec": {"containers": [{"name": "main", "image": "nginx:1.27"}]},
            },
        },
    }


def configmap(name: str, labels: dict[str, str] | None = None, **data: str) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels or {}},
        "data": data,
    }


def widget_crd(
    status: bool = True,
    versions: tuple[str, ...] = ("v1",),
    schema: Manifest | None = None,
    scope: str = "Namespaced",
) -> Manifest:
    """A small CRD (`widgets.example.com`) used across the tests."""
    spec_schema = schema or {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "size": {"type": "integer", "minimum": 0, "default": 1},
                    "color": {"type": "string", "enum": ["red", "blue"]},
                    "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
                },
            },
            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        },
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": scope,
            "names": {
                "plural": "widgets",
                "singular": "widget",
                "kind": "Widget",
                "shortNames": ["wd"],
                "categories": ["all"],
            },
            "versions": [
                {
                    "name": version,
                    "served": True,
                    "storage": i == 0,
                    "schema": {"openAPIV3Schema": spec_schema},
                    **({"subresources": {"status": {}}} if status else {}),
                    "additionalPrinterColumns": [
                        {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                    ],
                }
                for i, version in enumerate(versions)
            ],
        },
    }


def widget(name: str, version: str = "v1", **spec: Any) -> Manifest:
    return {
        "apiVersion": f"example.com/{version}",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": spec,
    }
