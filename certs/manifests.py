"""Kubernetes manifests around the webhook certificate: the TLS Secret, the CA bundle injected
into webhook configurations, and the cert-manager alternative.

The CA bundle injection edits the YAML text in place so comments, key order and formatting of
hand-written manifests survive; a structural check of the result guards the text edit, and a
plain re-serialisation is the fallback for layouts the text edit does not understand (for
example flow-style mappings).
"""

from __future__ import annotations

import base64
import copy
import re
from collections.abc import Sequence
from typing import Any

import yaml

Manifest = dict[str, Any]

WEBHOOK_CONFIG_KINDS = frozenset({"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"})
INJECT_CA_FROM = "cert-manager.io/inject-ca-from"

_CLIENT_CONFIG = re.compile(r"^(?P<indent>\s*)(?P<dash>-\s+)?clientConfig:\s*(#.*)?$")
_CA_BUNDLE = re.compile(r"^(?P<indent>\s*)caBundle:.*$")


def b64(data: bytes) -> str:
    """Standard base64 text, as Kubernetes expects in `data` and `caBundle`."""
    return base64.b64encode(data).decode("ascii")


def tls_secret(name: str, namespace: str, cert_pem: bytes, key_pem: bytes, ca_pem: bytes) -> Manifest:
    """A `kubernetes.io/tls` Secret holding the serving pair and the CA (for clients)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": b64(cert_pem), "tls.key": b64(key_pem), "ca.crt": b64(ca_pem)},
    }


def dump(docs: Sequence[Manifest]) -> str:
    """YAML for a list of manifests, keys in the order written."""
    return yaml.safe_dump_all(list(docs), sort_keys=False, default_flow_style=False)


def inject_ca_bundle(text: str, ca_pem: bytes) -> str:
    """Set `clientConfig.caBundle` of every webhook in every webhook configuration in `text`.

    Raises ValueError when the text holds no webhook configuration, so a wrong path does not
    pass silently.
    """
    bundle = b64(ca_pem)
    docs = list(yaml.safe_load_all(text))
    if not _webhook_configs(docs):
        raise ValueError("no MutatingWebhookConfiguration or ValidatingWebhookConfiguration found")
    expected = _with_bundle(docs, bundle)
    edited = _edit_text(text, bundle)
    if list(yaml.safe_load_all(edited)) == expected:
        return edited
    return yaml.safe_dump_all(expected, sort_keys=False, default_flow_style=False)


def _webhook_configs(docs: list[Any]) -> list[Manifest]:
    return [d for d in docs if isinstance(d, dict) and d.get("kind") in WEBHOOK_CONFIG_KINDS]


def _with_bundle(docs: list[Any], bundle: str) -> list[Any]:
    out = copy.deepcopy(docs)
    for doc in _webhook_configs(out):
        for hook in doc.get("webhooks") or []:
            if isinstance(hook, dict):
                client = hook.get("clientConfig")
                if not isinstance(client, dict):
                    client = hook["clientConfig"] = {}
                client["caBundle"] = bundle
    return out


def _edit_text(text: str, bundle: str) -> str:
    """Replace or insert `caBundle:` under each block-style `clientConfig:` key."""
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        out.append(line)
        i += 1
        m = _CLIENT_CONFIG.match(line.rstrip("\r\n"))
        if not m:
            continue
        key_col = len(m["indent"]) + len(m["dash"] or "")
        block_end = i
        while block_end < len(lines) and _inside_block(lines[block_end], key_col):
            block_end += 1
        block = [ln for ln in lines[i:block_end] if not _CA_BUNDLE.match(ln.rstrip("\r\n"))]
        child_col = next(
            (_indent(ln) for ln in block if ln.strip() and not ln.lstrip().startswith("#")), None
        )
        newline = "\r\n" if line.endswith("\r\n") else "\n"
        out.append(
            " " * (child_col if child_col is not None else key_col + 2) + f"caBundle: {bundle}{newline}"
        )
        out.extend(block)
        i = block_end
    return "".join(out)


def _inside_block(line: str, key_col: int) -> bool:
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return True
    return _indent(line) > key_col


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def cert_manager_manifests(
    service: str,
    namespace: str,
    *,
    dns_names: Sequence[str],
    issuer_name: str,
    certificate_name: str,
    secret_name: str,
    duration: str = "8760h",
    renew_before: str = "720h",
) -> list[Manifest]:
    """A self-signed Issuer and the serving Certificate; cert-manager writes `secret_name`.

    With a self-signed issuer the certificate is its own CA; cert-manager's CA injector copies it
    into webhook configurations that carry `inject_ca_from_annotation(...)`.
    """
    labels = {"app.kubernetes.io/name": service, "app.kubernetes.io/component": "webhook"}
    issuer: Manifest = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Issuer",
        "metadata": {"name": issuer_name, "namespace": namespace, "labels": labels},
        "spec": {"selfSigned": {}},
    }
    certificate: Manifest = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": certificate_name, "namespace": namespace, "labels": labels},
        "spec": {
            "secretName": secret_name,
            "commonName": dns_names[0] if dns_names else service,
            "dnsNames": list(dns_names),
            "duration": duration,
            "renewBefore": renew_before,
            "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
            "usages": ["digital signature", "key encipherment", "server auth"],
            "issuerRef": {"kind": "Issuer", "name": issuer_name},
        },
    }
    return [issuer, certificate]


def inject_ca_from_annotation(namespace: str, certificate_name: str) -> dict[str, str]:
    """The annotation that makes cert-manager's CA injector fill `caBundle` from a Certificate."""
    return {INJECT_CA_FROM: f"{namespace}/{certificate_name}"}
