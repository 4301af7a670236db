"""API access: the only module that imports ``kubernetes`` or speaks HTTP to the API server.

``kubernetes.config`` only loads the connection settings (kubeconfig or the in-cluster service
account, including token refresh); requests go through one pooled ``aiohttp`` session and move
plain dicts, which is cheaper than the generated models and keeps the caches small. Every request
passes a client-side token bucket (QPS/burst, as client-go's), is counted by verb and status code,
and failures become the typed errors of ``errors``.
"""

from __future__ import annotations

import os
import ssl
import time
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
import orjson
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config

from reconciler.runtime.clock import Clock, SystemClock
from reconciler.runtime.errors import TransportError, error_for
from reconciler.runtime.metrics import Metrics
from reconciler.runtime.ratelimit import TokenBucket

Manifest = dict[str, Any]
TokenSource = Callable[[], str | None]

APPLY_PATCH = "application/apply-patch+yaml"
"""Server-side apply; the body may be JSON, since JSON is YAML."""


@dataclass(frozen=True)
class Resource:
    """A REST mapping: where objects of one kind live on the API server."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(
        self, namespace: str | None = None, name: str | None = None, subresource: str | None = None
    ) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        if name is not None:
            base += f"/{name}"
            if subresource:
                base += f"/{subresource}"
        return base


@dataclass(frozen=True)
class ClientConfig:
    """Where and how to reach the API server."""

    host: str
    ssl_context: ssl.SSLContext | None = None
    token: TokenSource | None = None
    user_agent: str | None = None
    """Also the field manager the API server files writes other than applies under; None: aiohttp's."""
    qps: float = 50.0
    burst: int = 100
    timeout: float = 30.0
    extra_headers: Mapping[str, str] = field(default_factory=dict)


def load_config(kubeconfig: str | None = None, context: str | None = None) -> ClientConfig:
    """Connection settings from ``kubeconfig`` (or $KUBECONFIG, ~/.kube/config), else in-cluster."""
    configuration = k8s_client.Configuration()
    in_cluster = kubeconfig is None and "KUBERNETES_SERVICE_HOST" in os.environ
    if in_cluster:
        k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    else:
        k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=kubeconfig, context=context, client_configuration=configuration
        )
    return ClientConfig(
        host=str(configuration.host).rstrip("/"),
        ssl_context=_ssl_context(configuration),
        token=_token_source(configuration),
    )


def _ssl_context(configuration: k8s_client.Configuration) -> ssl.SSLContext | None:
    if not str(configuration.host).startswith("https"):
        return None
    context = ssl.create_default_context(cafile=configuration.ssl_ca_cert or None)
    if configuration.cert_file:
        context.load_cert_chain(configuration.cert_file, configuration.key_file)
    if not configuration.verify_ssl:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _token_source(configuration: k8s_client.Configuration) -> TokenSource | None:
    if "BearerToken" not in configuration.api_key and configuration.refresh_api_key_hook is None:
        return None

    def token() -> str | None:
        # Runs the loader's refresh hook: in-cluster tokens are re-read from disk once a minute.
        value = configuration.get_api_key_with_prefix("BearerToken")
        return None if value is None else str(value)

    return token


class KubeClient(Protocol):
    """The writes (and the rare direct read) a reconcile makes; ``Client`` is one."""

    async def get(self, resource: Resource, name: str, namespace: str | None = None) -> Manifest: ...

    async def create(self, resource: Resource, obj: Manifest) -> Manifest: ...

    async def replace(self, resource: Resource, obj: Manifest) -> Manifest: ...

    async def apply(
        self, resource: Resource, obj: Manifest, *, field_manager: str, force: bool = True
    ) -> Manifest: ...

    async def patch(
        self,
        resource: Resource,
        name: str,
        patch: Any,
        namespace: str | None = None,
        *,
        subresource: str | None = None,
        patch_type: str = ...,
    ) -> Manifest: ...

    async def delete(
        self, resource: Resource, name: str, namespace: str | None = None, *, uid: str | None = None
    ) -> Manifest: ...

    async def patch_status(
        self, resource: Resource, name: str, namespace: str | None, status: Any
    ) -> Manifest: ...


class Client:
    """Dict-in, dict-out Kubernetes REST client over one pooled aiohttp session."""

    def __init__(
        self, config: ClientConfig, *, metrics: Metrics | None = None, clock: Clock | None = None
    ) -> None:
        self._config = config
        self._metrics = metrics
        self._clock = clock or SystemClock()
        self._bucket = TokenBucket(config.qps, config.burst, self._clock)
        self._session: aiohttp.ClientSession | None = None
        self.requests: Counter[tuple[str, int]] = Counter()
        """Requests made, by (verb, HTTP status); status 0 for transport failures."""

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            # No connection limit: every watch pins one connection for minutes.
            connector = aiohttp.TCPConnector(limit=0, ssl=self._config.ssl_context or False)
            headers = {"Accept": "application/json"}
            if self._config.user_agent:
                headers["User-Agent"] = self._config.user_agent
            headers.update(self._config.extra_headers)
            self._session = aiohttp.ClientSession(
                base_url=self._config.host, connector=connector, headers=headers
            )
        return self._session

    def writes(self) -> int:
        """Write requests made so far (create, update, patch, delete), whatever their outcome."""
        return sum(
            n for (verb, _), n in self.requests.items() if verb in ("create", "update", "patch", "delete")
        )

    def reads(self) -> int:
        """Read requests made so far (get, list, watch)."""
        return sum(n for (verb, _), n in self.requests.items() if verb in ("get", "list", "watch"))

    async def _throttle(self) -> None:
        delay = self._bucket.reserve()
        if delay > 0:
            await self._clock.sleep(delay)

    def _headers(self, content_type: str | None) -> dict[str, str]:
        headers = {}
        if content_type:
            headers["Content-Type"] = content_type
        token = self._config.token() if self._config.token else None
        if token:
            headers["Authorization"] = token
        return headers

    def _count(self, verb: str, method: str, status: int, started: float) -> None:
        self.requests[(verb, status)] += 1
        if self._metrics is not None:
            code = str(status) if status else "<error>"
            self._metrics.requests.labels(code, method).inc()
            self._metrics.requests_by_verb.labels(verb, code).inc()
            self._metrics.request_latency.labels(verb).observe(time.monotonic() - started)

    async def request(
        self,
        method: str,
        path: str,
        *,
        verb: str,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str | None = None,
    ) -> Manifest:
        """One request; the decoded JSON answer, or a typed ApiError."""
        await self._throttle()
        data = None if body is None else orjson.dumps(body)
        if data is not None and content_type is None:
            content_type = "application/json"
        started = time.monotonic()
        try:
            async with self._http().request(
                method,
                path,
                params=params,
                data=data,
                headers=self._headers(content_type),
                timeout=aiohttp.ClientTimeout(total=self._config.timeout),
            ) as response:
                payload = await response.read()
                status = response.status
                retry_after = response.headers.get("Retry-After")
        except (aiohttp.ClientError, TimeoutError) as e:
            self._count(verb, method, 0, started)
            raise TransportError(f"{method} {path}: {e!r}") from e
        self._count(verb, method, status, started)
        decoded = _decode(payload)
        if status >= 400:
            raise error_for(status, decoded, retry_after)
        return decoded

    async def get(self, resource: Resource, name: str, namespace: str | None = None) -> Manifest:
        return await self.request("GET", resource.path(namespace, name), verb="get")

    async def get_path(self, path: str) -> Manifest:
        """A raw GET (discovery documents)."""
        return await self.request("GET", path, verb="get")

    async def list(
        self,
        resource: Resource,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
    ) -> Manifest:
        params: dict[str, str] = {}
        if label_selector:
            params["labelSelector"] = label_selector
        if limit:
            params["limit"] = str(limit)
        if continue_token:
            params["continue"] = continue_token
        return await self.request("GET", resource.path(namespace), verb="list", params=params)

    async def create(self, resource: Resource, obj: Manifest) -> Manifest:
        namespace = obj.get("metadata", {}).get("namespace")
        return await self.request("POST", resource.path(namespace), verb="create", body=obj)

    async def replace(self, resource: Resource, obj: Manifest) -> Manifest:
        """PUT ``obj``; its metadata.resourceVersion (if any) is the optimistic-concurrency precondition."""
        meta = obj["metadata"]
        return await self.request(
            "PUT", resource.path(meta.get("namespace"), meta["name"]), verb="update", body=obj
        )

    async def patch(
        self,
        resource: Resource,
        name: str,
        patch: Any,
        namespace: str | None = None,
        *,
        subresource: str | None = None,
        patch_type: str = "application/merge-patch+json",
    ) -> Manifest:
        path = resource.path(namespace, name, subresource)
        return await self.request("PATCH", path, verb="patch", body=patch, content_type=patch_type)

    async def apply(
        self, resource: Resource, obj: Manifest, *, field_manager: str, force: bool = True
    ) -> Manifest:
        """Server-side apply ``obj``: create it, or merge it into the live object, as ``field_manager``.

        ``force`` takes over fields another manager set to other values (a controller should: it
        cannot resolve conflicts). A metadata.resourceVersion in ``obj`` is a precondition on an
        existing object; a create ignores it.
        """
        meta = obj["metadata"]
        params = {"fieldManager": field_manager}
        if force:
            params["force"] = "true"
        path = resource.path(meta.get("namespace"), meta["name"])
        return await self.request(
            "PATCH", path, verb="patch", params=params, body=obj, content_type=APPLY_PATCH
        )

    async def patch_status(
        self, resource: Resource, name: str, namespace: str | None, status: Any
    ) -> Manifest:
        """JSON merge patch of the status subresource."""
        return await self.patch(resource, name, {"status": status}, namespace, subresource="status")

    async def delete(
        self, resource: Resource, name: str, namespace: str | None = None, *, uid: str | None = None
    ) -> Manifest:
        """Delete in the background; with ``uid`` only that incarnation of the object."""
        body: Manifest = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
        if uid:
            body["preconditions"] = {"uid": uid}
        return await self.request("DELETE", resource.path(namespace, name), verb="delete", body=body)

    async def watch(
        self,
        resource: Resource,
        namespace: str | None = None,
        *,
        resource_version: str,
        label_selector: str | None = None,
        timeout_seconds: int = 300,
    ) -> AsyncGenerator[tuple[str, Manifest], None]:
        """Stream (type, object) watch events with bookmarks until the server ends the watch.

        An ERROR event becomes its typed error (``Gone`` for an expired resourceVersion).
        """
        params = {
            "watch": "1",
            "allowWatchBookmarks": "true",
            "resourceVersion": resource_version,
            "timeoutSeconds": str(timeout_seconds),
        }
        if label_selector:
            params["labelSelector"] = label_selector
        await self._throttle()
        started = time.monotonic()
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self._config.timeout, sock_read=timeout_seconds + 30
        )
        try:
            async with self._http().get(
                resource.path(namespace), params=params, headers=self._headers(None), timeout=timeout
            ) as response:
                self._count("watch", "GET", response.status, started)
                if response.status >= 400:
                    body = _decode(await response.read())
                    raise error_for(response.status, body, response.headers.get("Retry-After"))
                async for line in _lines(response.content):
                    event = orjson.loads(line)
                    kind, obj = event.get("type", ""), event.get("object") or {}
                    if kind == "ERROR":
                        raise error_for(int(obj.get("code") or 500), obj)
                    yield kind, obj
        except (aiohttp.ClientError, TimeoutError) as e:
            raise TransportError(f"watch {resource.path(namespace)}: {e!r}") from e


async def _lines(stream: aiohttp.StreamReader) -> AsyncIterator[bytes]:
    """Newline-delimited chunks of a streamed body, however large one line is."""
    buffer = bytearray()
    async for chunk in stream.iter_any():
        buffer.extend(chunk)
        start = 0
        while (end := buffer.find(b"\n", start)) >= 0:
            if end > start:
                yield bytes(buffer[start:end])
            start = end + 1
        del buffer[:start]
    if buffer.strip():
        yield bytes(buffer)


def _decode(payload: bytes) -> Manifest:
    if not payload:
        return {}
    try:
        decoded = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return {"message": payload[:200].decode(errors="replace")}
    return decoded if isinstance(decoded, dict) else {"items": decoded}
