"""Certificate issuing: chains verify, SANs and lifetimes are as asked, renewal windows hold."""

from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from certs import pki

NOW = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def ca() -> pki.KeyPair:
    return pki.create_ca(now=NOW)


def test_service_dns_names_cover_every_in_cluster_spelling() -> None:
    assert pki.service_dns_names("wh", "sys") == ["wh", "wh.sys", "wh.sys.svc", "wh.sys.svc.cluster.local"]


def test_ca_is_a_path_length_zero_ca_valid_for_ten_years(ca: pki.KeyPair) -> None:
    cert = x509.load_pem_x509_certificate(ca.cert_pem)
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert (constraints.ca, constraints.path_length) == (True, 0)
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == pki.CA_LIFETIME


def test_serving_cert_carries_dns_and_ip_sans_and_verifies_against_the_ca(ca: pki.KeyPair) -> None:
    leaf = pki.issue_serving_cert(ca, ["wh", "wh.sys.svc"], ["127.0.0.1", "::1"], now=NOW)
    assert pki.subject_alt_names(leaf.cert_pem) == (["wh", "wh.sys.svc"], ["127.0.0.1", "::1"])
    assert pki.is_signed_by(leaf.cert_pem, ca.cert_pem)
    cert = x509.load_pem_x509_certificate(leaf.cert_pem)
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == pki.SERVING_LIFETIME


def test_serving_cert_loads_into_an_ssl_context(ca: pki.KeyPair, tmp_path: Path) -> None:
    leaf = pki.issue_serving_cert(ca, ["localhost"])
    cert_file, key_file = tmp_path / "tls.crt", tmp_path / "tls.key"
    cert_file.write_bytes(leaf.cert_pem)
    key_file.write_bytes(leaf.key_pem)
    ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert_file, key_file)


def test_serving_cert_never_outlives_its_ca() -> None:
    short_ca = pki.create_ca(lifetime=dt.timedelta(days=10), now=NOW)
    leaf = pki.issue_serving_cert(short_ca, ["wh"], now=NOW)
    assert pki.not_after(leaf.cert_pem) == pki.not_after(short_ca.cert_pem)


@pytest.mark.parametrize(
    ("key_type", "cls", "size"),
    [
        ("ecdsa-p256", ec.EllipticCurvePrivateKey, 256),
        ("ecdsa-p384", ec.EllipticCurvePrivateKey, 384),
        ("rsa-2048", rsa.RSAPrivateKey, 2048),
    ],
    ids=["ecdsa-p256", "ecdsa-p384", "rsa-2048"],
)
def test_key_type_is_honoured_and_recognised(
    ca: pki.KeyPair, key_type: pki.KeyType, cls: type, size: int
) -> None:
    leaf = pki.issue_serving_cert(ca, ["wh"], key_type=key_type)
    key = pki.load_key(leaf.key_pem)
    assert isinstance(key, cls)
    assert key.key_size == size
    assert pki.key_type_of(key) == key_type


@pytest.mark.parametrize(
    ("dns", "ips", "message"),
    [([], [], "at least one"), (["wh"], ["not-an-ip"], "not an IP")],
    ids=["no names at all", "bad ip address"],
)
def test_bad_san_input_is_refused_with_a_reason(
    ca: pki.KeyPair, dns: list[str], ips: list[str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        pki.issue_serving_cert(ca, dns, ips)


@pytest.mark.parametrize(
    ("age_days", "window_days", "expected"),
    [(0, 30, False), (340, 30, True), (400, 30, True), (300, 30, False)],
    ids=["fresh", "inside the window", "already expired", "just outside the window"],
)
def test_expires_within_compares_expiry_with_now_plus_window(
    ca: pki.KeyPair, age_days: int, window_days: int, expected: bool
) -> None:
    leaf = pki.issue_serving_cert(ca, ["wh"], now=NOW)
    now = NOW + dt.timedelta(days=age_days)
    assert pki.expires_within(leaf.cert_pem, dt.timedelta(days=window_days), now=now) is expected


def test_renewal_keeps_sans_and_key_type_but_not_the_key(ca: pki.KeyPair) -> None:
    old = pki.issue_serving_cert(ca, ["wh", "wh.sys"], ["10.0.0.1"], key_type="ecdsa-p384", now=NOW)
    new = pki.renew_serving_cert(ca, old, now=NOW + dt.timedelta(days=340))
    assert pki.subject_alt_names(new.cert_pem) == pki.subject_alt_names(old.cert_pem)
    assert pki.key_type_of(pki.load_key(new.key_pem)) == "ecdsa-p384"
    assert new.key_pem != old.key_pem
    assert pki.not_after(new.cert_pem) > pki.not_after(old.cert_pem)


def test_a_certificate_from_another_ca_is_not_signed_by_this_one(ca: pki.KeyPair) -> None:
    other = pki.create_ca()
    leaf = pki.issue_serving_cert(other, ["wh"])
    assert not pki.is_signed_by(leaf.cert_pem, ca.cert_pem)
