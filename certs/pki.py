"""Issue a private CA and a serving certificate for the admission webhook.

Everything here is pure apart from key generation: inputs are PEM bytes and plain values, outputs
are PEM bytes. The CLI (`certs.cli`) does the file handling. The clock is a parameter so tests can
issue certificates "in the past" and check renewal windows without sleeping.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from cryptography import exceptions, x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

KeyType = Literal["ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-3072", "rsa-4096"]
KEY_TYPES: tuple[KeyType, ...] = ("ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-3072", "rsa-4096")

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

CA_LIFETIME = dt.timedelta(days=3650)
SERVING_LIFETIME = dt.timedelta(days=365)
# Clocks across a cluster drift; a certificate valid only from "now" fails on a node a few
# seconds behind. Five minutes is what most issuers use.
BACKDATE = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class KeyPair:
    """A certificate and its private key, both PEM-encoded."""

    cert_pem: bytes
    key_pem: bytes


def generate_key(key_type: KeyType = "ecdsa-p256") -> PrivateKey:
    """A fresh private key of the requested type."""
    if key_type == "ecdsa-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "ecdsa-p384":
        return ec.generate_private_key(ec.SECP384R1())
    bits = int(key_type.removeprefix("rsa-"))
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def key_type_of(key: PrivateKey) -> KeyType:
    """The `KeyType` name of an existing key (renewal keeps the type the operator chose)."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return "ecdsa-p384" if key.curve.name == "secp384r1" else "ecdsa-p256"
    size = key.key_size
    return "rsa-4096" if size >= 4096 else "rsa-3072" if size >= 3072 else "rsa-2048"


def service_dns_names(service: str, namespace: str, cluster_domain: str = "cluster.local") -> list[str]:
    """The four names a Service answers to inside the cluster, shortest first."""
    return [
        service,
        f"{service}.{namespace}",
        f"{service}.{namespace}.svc",
        f"{service}.{namespace}.svc.{cluster_domain}",
    ]


def create_ca(
    common_name: str = "modelservice-webhook-ca",
    *,
    key_type: KeyType = "ecdsa-p256",
    lifetime: dt.timedelta = CA_LIFETIME,
    now: dt.datetime | None = None,
) -> KeyPair:
    """A self-signed CA that may sign leaf certificates only (path length 0)."""
    key = generate_key(key_type)
    start = _now(now) - BACKDATE
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + lifetime)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return KeyPair(_cert_pem(cert), _key_pem(key))


def issue_serving_cert(
    ca: KeyPair,
    dns_names: Sequence[str],
    ip_addresses: Iterable[str] = (),
    *,
    key_type: KeyType = "ecdsa-p256",
    lifetime: dt.timedelta = SERVING_LIFETIME,
    now: dt.datetime | None = None,
) -> KeyPair:
    """A TLS server certificate for `dns_names` and `ip_addresses`, signed by `ca`.

    The first DNS name (or the first IP when there is none) becomes the subject common name;
    clients verify against the SANs only.
    """
    sans = _subject_alt_names(dns_names, ip_addresses)
    cn = dns_names[0] if dns_names else str(next(iter(ip_addresses)))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn[:64])])
    extensions: list[x509.ExtensionType] = [x509.SubjectAlternativeName(sans)]
    return _issue_leaf(ca, subject, ExtendedKeyUsageOID.SERVER_AUTH, extensions, key_type, lifetime, now)


def issue_client_cert(
    ca: KeyPair,
    common_name: str,
    organizations: Sequence[str] = (),
    *,
    key_type: KeyType = "ecdsa-p256",
    lifetime: dt.timedelta = SERVING_LIFETIME,
    now: dt.datetime | None = None,
) -> KeyPair:
    """A TLS client certificate signed by `ca`: Kubernetes reads the user from the common name and
    the groups from the organizations."""
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    subject = x509.Name([*attributes, x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    return _issue_leaf(ca, subject, ExtendedKeyUsageOID.CLIENT_AUTH, [], key_type, lifetime, now)


def _issue_leaf(
    ca: KeyPair,
    subject: x509.Name,
    usage: x509.ObjectIdentifier,
    extensions: Sequence[x509.ExtensionType],
    key_type: KeyType,
    lifetime: dt.timedelta,
    now: dt.datetime | None,
) -> KeyPair:
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem)
    ca_key = _load_key(ca.key_pem)
    key = generate_key(key_type)
    start = _now(now) - BACKDATE
    # A leaf must not outlive its issuer, or clients reject the chain halfway through its life.
    end = min(start + lifetime, ca_cert.not_valid_after_utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    )
    for extension in extensions:
        builder = builder.add_extension(extension, critical=False)
    cert = builder.add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
    ).sign(ca_key, hashes.SHA256())
    return KeyPair(_cert_pem(cert), _key_pem(key))


def renew_serving_cert(
    ca: KeyPair,
    current: KeyPair,
    *,
    lifetime: dt.timedelta = SERVING_LIFETIME,
    now: dt.datetime | None = None,
) -> KeyPair:
    """Re-issue `current` from `ca` with the same SANs and key type, and a fresh key."""
    dns, ips = subject_alt_names(current.cert_pem)
    key_type = key_type_of(_load_key(current.key_pem))
    return issue_serving_cert(ca, dns, ips, key_type=key_type, lifetime=lifetime, now=now)


def subject_alt_names(cert_pem: bytes) -> tuple[list[str], list[str]]:
    """(DNS names, IP addresses) of a certificate; empty lists when it has no SAN extension."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    return ext.get_values_for_type(x509.DNSName), [str(ip) for ip in ext.get_values_for_type(x509.IPAddress)]


def not_after(cert_pem: bytes) -> dt.datetime:
    """The first certificate's expiry time (UTC, timezone-aware)."""
    return x509.load_pem_x509_certificate(cert_pem).not_valid_after_utc


def expires_within(cert_pem: bytes, window: dt.timedelta, now: dt.datetime | None = None) -> bool:
    """True when the certificate is expired or expires before `now + window`."""
    return not_after(cert_pem) <= _now(now) + window


def is_signed_by(cert_pem: bytes, ca_cert_pem: bytes) -> bool:
    """True when `ca_cert_pem` issued and signed `cert_pem` (renewal must not mix CAs)."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    ca = x509.load_pem_x509_certificate(ca_cert_pem)
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, exceptions.InvalidSignature):
        return False
    return True


def load_key(key_pem: bytes) -> PrivateKey:
    """Load an unencrypted PEM private key of a supported type."""
    return _load_key(key_pem)


def _load_key(key_pem: bytes) -> PrivateKey:
    key = serialization.load_pem_private_key(key_pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ValueError(f"unsupported private key type {type(key).__name__}; use ECDSA or RSA")
    return key


def _subject_alt_names(dns_names: Sequence[str], ip_addresses: Iterable[str]) -> list[x509.GeneralName]:
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dict.fromkeys(dns_names)]
    for raw in dict.fromkeys(ip_addresses):
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(raw)))
        except ValueError as e:
            raise ValueError(f"extra SAN {raw!r} is not an IP address: {e}") from e
    if not sans:
        raise ValueError("a serving certificate needs at least one DNS name or IP address")
    return sans


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=not cert_sign,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _now(now: dt.datetime | None) -> dt.datetime:
    return now if now is not None else dt.datetime.now(dt.UTC)
