"""Secret and cert-manager manifests, and CA bundle injection that keeps hand-written YAML intact."""

from __future__ import annotations

import base64

import pytest
import yaml

from certs import manifests

CA = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
BUNDLE = base64.b64encode(CA).decode()

BLOCK_STYLE = """\
# webhook configurations (comment kept)
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: ms-mutating
webhooks:
  - name: mutate.model.otterscale.io
    clientConfig:
      # points at the Service
      service: {name: wh, namespace: sys, path: /mutate}
    sideEffects: None
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: ms-validating
webhooks:
- name: validate.model.otterscale.io
  clientConfig:
    caBundle: b2xk
    service:
      name: wh
      namespace: sys
  sideEffects: None
- name: second.model.otterscale.io
  clientConfig:
    url: https://127.0.0.1:9443/validate
"""


def _bundles(text: str) -> list[str]:
    return [hook["clientConfig"]["caBundle"] for doc in yaml.safe_load_all(text) for hook in doc["webhooks"]]


def test_tls_secret_is_a_kubernetes_tls_secret_with_the_ca() -> None:
    secret = manifests.tls_secret("wh-tls", "sys", b"C", b"K", b"A")
    assert secret["type"] == "kubernetes.io/tls"
    assert secret["data"] == {"tls.crt": "Qw==", "tls.key": "Sw==", "ca.crt": "QQ=="}
    assert secret["metadata"] == {"name": "wh-tls", "namespace": "sys"}


def test_inject_sets_every_webhook_bundle_and_keeps_comments_and_layout() -> None:
    out = manifests.inject_ca_bundle(BLOCK_STYLE, CA)
    assert _bundles(out) == [BUNDLE, BUNDLE, BUNDLE]
    assert "# webhook configurations (comment kept)" in out
    assert "      # points at the Service" in out
    assert "b2xk" not in out
    assert out.replace(f"caBundle: {BUNDLE}\n", "").count("\n") == BLOCK_STYLE.count("\n") - 1


def test_inject_is_idempotent() -> None:
    once = manifests.inject_ca_bundle(BLOCK_STYLE, CA)
    assert manifests.inject_ca_bundle(once, CA) == once


def test_inject_falls_back_to_reserialising_flow_style_documents() -> None:
    text = "kind: ValidatingWebhookConfiguration\nwebhooks: [{name: a, clientConfig: {url: 'https://x'}}]\n"
    out = manifests.inject_ca_bundle(text, CA)
    assert _bundles(out) == [BUNDLE]


def test_inject_leaves_other_documents_alone() -> None:
    crd = (
        "kind: CustomResourceDefinition\nspec:\n  conversion:\n"
        "    webhook:\n      clientConfig:\n        url: x\n"
    )
    out = manifests.inject_ca_bundle(crd + "---\n" + BLOCK_STYLE, CA)
    first = next(yaml.safe_load_all(out))
    assert first["spec"]["conversion"]["webhook"]["clientConfig"] == {"url": "x"}


def test_inject_refuses_files_without_webhook_configurations() -> None:
    with pytest.raises(ValueError, match="no MutatingWebhookConfiguration"):
        manifests.inject_ca_bundle("kind: ConfigMap\n", CA)


def test_cert_manager_certificate_names_the_issuer_secret_and_dns_names() -> None:
    issuer, cert = manifests.cert_manager_manifests(
        "wh", "sys", dns_names=["wh", "wh.sys.svc"], issuer_name="i", certificate_name="c", secret_name="s"
    )
    assert issuer["spec"] == {"selfSigned": {}}
    assert cert["spec"]["issuerRef"] == {"kind": "Issuer", "name": "i"}
    assert (cert["spec"]["secretName"], cert["spec"]["dnsNames"]) == ("s", ["wh", "wh.sys.svc"])
    assert manifests.inject_ca_from_annotation("sys", "c") == {"cert-manager.io/inject-ca-from": "sys/c"}
