"""The admission chain: calling mutating, then validating webhooks as the API server does.

For each matching webhook the server POSTs an `admission.k8s.io/v1` AdmissionReview over HTTPS
(verifying the serving certificate against `caBundle`) to `clientConfig.url`, or to a
`clientConfig.service` resolved through the configured service host map, with `?timeout=Ns`
appended. JSONPatch responses are applied, `reinvocationPolicy: IfNeeded` webhooks run once more
if a later webhook changed the object, warnings become `Warning` headers, and denials and
failures are reported with the real server's codes and wording (Kubernetes 1.32):
a denial keeps the webhook's status code (raised to 400 when below 400) and is prefixed
`admission webhook "<name>" denied the request: `; a failing webhook under `failurePolicy: Fail`
is a 500 `failed calling webhook "<name>": ...`. Validating webhooks run one after another
(the real server runs them in parallel; only timing differs).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import ssl
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import jsonpatch

from localcluster import errors, meta
from localcluster.operations import CREATE, DELETE, Options, Target
from localcluster.store import Store
from localcluster.webhooks import MUTATING, VALIDATING, Match, matching

Manifest = dict[str, Any]
_OPTIONS_KIND = {CREATE: "CreateOptions", "UPDATE": "UpdateOptions", DELETE: "DeleteOptions"}


class WebhookCallError(Exception):
    """Calling a webhook failed (network, TLS, timeout, malformed response)."""


class AdmissionChain:
    def __init__(self, store: Store, service_hosts: Mapping[str, str] | None = None) -> None:
        self.store = store
        self.service_hosts = dict(service_hosts or {})
        self._session: aiohttp.ClientSession | None = None
        self._contexts: dict[str, ssl.SSLContext] = {}

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64))
        return self._session

    # ----- the two phases ------------------------------------------------------------------------

    async def mutate(
        self, op: str, t: Target, obj: Manifest | None, old: Manifest | None, opts: Options
    ) -> Manifest | None:
        hooks = matching(self.store, MUTATING, op, t.rt, t.version, t.subresource, t.namespace, obj, old)
        if not hooks:
            return obj
        invoked: list[tuple[int, Match]] = []
        last_change = -1
        for index, match in enumerate(hooks):
            obj, changed = await self._call(match, op, t, obj, old, opts, mutating=True)
            invoked.append((index, match))
            if changed:
                last_change = index
        for index, match in invoked:
            if match.hook.get("reinvocationPolicy") == "IfNeeded" and index < last_change:
                obj, _ = await self._call(match, op, t, obj, old, opts, mutating=True)
        return obj

    async def validate(
        self, op: str, t: Target, obj: Manifest | None, old: Manifest | None, opts: Options
    ) -> None:
        for match in matching(
            self.store, VALIDATING, op, t.rt, t.version, t.subresource, t.namespace, obj, old
        ):
            await self._call(match, op, t, obj, old, opts, mutating=False)

    # ----- one webhook ---------------------------------------------------------------------------

    async def _call(
        self,
        match: Match,
        op: str,
        t: Target,
        obj: Manifest | None,
        old: Manifest | None,
        opts: Options,
        mutating: bool,
    ) -> tuple[Manifest | None, bool]:
        hook = match.hook
        name = hook["name"]
        if opts.dry_run and hook.get("sideEffects") not in ("None", "NoneOnDryRun"):
            raise errors.bad_request(f'admission webhook "{name}" does not support dry run')
        review = self._review(match, op, t, obj, old, opts)
        try:
            response = await self._post(hook, review)
        except WebhookCallError as exc:
            if hook.get("failurePolicy", "Fail") == "Ignore":
                return obj, False
            raise errors.internal(f'failed calling webhook "{name}": {exc}') from exc
        opts.warnings.extend(str(w) for w in response.get("warnings") or ())
        if not response.get("allowed"):
            raise _denial(name, response.get("status") or {})
        patch_b64 = response.get("patch")
        if not (mutating and patch_b64 and obj is not None):
            return obj, False
        try:
            if response.get("patchType", "JSONPatch") != "JSONPatch":
                raise WebhookCallError(f"unsupported patch type {response.get('patchType')!r}")
            ops = json.loads(base64.b64decode(patch_b64))
            patched = jsonpatch.JsonPatch(ops).apply(self._convert(obj, t, match.version))
        except (
            WebhookCallError,
            ValueError,
            binascii.Error,
            jsonpatch.JsonPatchException,
            jsonpatch.JsonPointerException,
            TypeError,
        ) as exc:
            if hook.get("failurePolicy", "Fail") == "Ignore":
                return obj, False
            raise errors.internal(f'failed calling webhook "{name}": invalid JSON patch: {exc}') from exc
        patched = self._convert(meta.clone(patched), t, t.version)
        return patched, patched != obj

    def _convert(self, obj: Manifest, t: Target, version: str) -> Manifest:
        api_version = t.rt.api_version(version)
        return obj if obj.get("apiVersion") == api_version else {**obj, "apiVersion": api_version}

    def _review(
        self, match: Match, op: str, t: Target, obj: Manifest | None, old: Manifest | None, opts: Options
    ) -> Manifest:
        rt, version = t.rt, match.version
        request: Manifest = {
            "uid": str(uuid.uuid4()),
            "kind": {"group": rt.group, "version": version, "kind": rt.kind},
            "resource": {"group": rt.group, "version": version, "resource": rt.plural},
            "requestKind": {"group": rt.group, "version": t.version, "kind": rt.kind},
            "requestResource": {"group": rt.group, "version": t.version, "resource": rt.plural},
            "operation": op,
            "userInfo": opts.user,
            "object": self._convert(obj, t, version) if obj is not None else None,
            "oldObject": self._convert(old, t, version) if old is not None else None,
            "dryRun": opts.dry_run,
            "options": {"kind": _OPTIONS_KIND[op], "apiVersion": "meta.k8s.io/v1", **opts.options},
        }
        if t.subresource:
            request["subResource"] = request["requestSubResource"] = t.subresource
        name = (obj or old or {}).get("metadata", {}).get("name") or t.name
        if name:
            request["name"] = name
        if rt.namespaced and t.namespace:
            request["namespace"] = t.namespace
        return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}

    def _endpoint(self, hook: Manifest) -> tuple[str, str | None]:
        """The URL to POST to and the TLS server name to verify (for service references)."""
        config = hook.get("clientConfig") or {}
        if config.get("url"):
            return str(config["url"]), None
        service = config.get("service") or {}
        name, namespace, port = service.get("name"), service.get("namespace"), service.get("port", 443)
        host = None
        for key in (
            f"{name}.{namespace}:{port}",
            f"{name}.{namespace}.svc:{port}",
            f"{name}.{namespace}",
            f"{name}.{namespace}.svc",
        ):
            host = host or self.service_hosts.get(key)
        if host is None:
            raise WebhookCallError(f'service "{namespace}/{name}" is not in the service host map')
        return f"https://{host}{service.get('path') or ''}", f"{name}.{namespace}.svc"

    def _ssl(self, hook: Manifest) -> ssl.SSLContext:
        bundle = str((hook.get("clientConfig") or {}).get("caBundle") or "")
        context = self._contexts.get(bundle)
        if context is None:
            try:
                cadata = base64.b64decode(bundle).decode() if bundle else None
                context = (
                    ssl.create_default_context(cadata=cadata) if cadata else ssl.create_default_context()
                )
            except (ValueError, ssl.SSLError, binascii.Error) as exc:
                raise WebhookCallError(f"invalid caBundle: {exc}") from exc
            self._contexts[bundle] = context
        return context

    async def _post(self, hook: Manifest, review: Manifest) -> Manifest:
        timeout = int(hook.get("timeoutSeconds") or 10)
        url, server_name = self._endpoint(hook)
        url = f"{url}{'&' if '?' in url else '?'}timeout={timeout}s"
        try:
            async with asyncio.timeout(timeout):
                async with self._client().post(
                    url,
                    json=review,
                    ssl=self._ssl(hook),
                    server_hostname=server_name or urlsplit(url).hostname,
                ) as resp:
                    text = await resp.text()
                    if resp.status != 200:
                        raise WebhookCallError(
                            f"the server responded with the status code {resp.status} "
                            f"but did not return more information"
                        )
        except TimeoutError:
            raise WebhookCallError(
                f'failed to call webhook: Post "{url}": context deadline exceeded'
            ) from None
        except aiohttp.ClientError as exc:
            raise WebhookCallError(f'failed to call webhook: Post "{url}": {exc}') from exc
        return _parse_response(text, review["request"]["uid"])


def _parse_response(text: str, uid: str) -> Manifest:
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise WebhookCallError(f"received invalid webhook response: {exc}") from exc
    response = body.get("response") if isinstance(body, dict) else None
    if not isinstance(response, dict):
        raise WebhookCallError("received invalid webhook response: response is missing")
    if response.get("uid") != uid:
        raise WebhookCallError(f'expected response.uid="{uid}", got "{response.get("uid")}"')
    return response


def _denial(name: str, result: Manifest) -> errors.StatusError:
    """Kubernetes 1.32 `ToStatusErr`: keep the webhook's status, code at least 400, prefix the message."""
    code = int(result.get("code") or 0)
    denied = f'admission webhook "{name}" denied the request'
    if result.get("message"):
        message = f"{denied}: {result['message']}"
    elif result.get("reason"):
        message = f"{denied}: {result['reason']}"
    else:
        message = f"{denied} without explanation"
    details = result.get("details") if isinstance(result.get("details"), dict) else None
    return errors.StatusError(code if code >= 400 else 400, str(result.get("reason") or ""), message, details)
