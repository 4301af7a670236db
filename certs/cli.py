"""`python -m certs`: create, renew and distribute the webhook's certificates.

Subcommands:
  create        CA (reused when DIR already holds one) + serving certificate + Secret manifest
  renew         re-issue the serving certificate from the existing CA when it expires soon
  inject-ca     write the CA bundle into webhook configuration YAML files (in place)
  cert-manager  print a self-signed Issuer + Certificate, or the inject-ca-from annotation

Files in DIR: ca.crt, ca.key, tls.crt, tls.key (keys mode 0600) and secret.yaml.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

from certs import manifests, pki

CA_CERT, CA_KEY, TLS_CERT, TLS_KEY, SECRET = "ca.crt", "ca.key", "tls.crt", "tls.key", "secret.yaml"
_DURATION = re.compile(r"(\d+)([smhdwy])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}


def parse_duration(text: str) -> dt.timedelta:
    """`30d`, `12h`, `1y`, `1d12h` ... (units s m h d w y; y = 365 days)."""
    if not text or _DURATION.sub("", text):
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}: use e.g. 30d, 12h, 1y, 1d12h")
    return dt.timedelta(seconds=sum(int(n) * _UNIT_SECONDS[u] for n, u in _DURATION.findall(text)))


def split_sans(extra: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split extra SANs into (DNS names, IP addresses); IPs are recognised by parsing."""
    dns: list[str] = []
    ips: list[str] = []
    for item in extra:
        for san in filter(None, (s.strip() for s in item.split(","))):
            (ips if _is_ip(san) else dns).append(san)
    return dns, ips


def _is_ip(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def cmd_create(args: argparse.Namespace) -> int:
    out = Path(args.dir)
    out.mkdir(parents=True, exist_ok=True)
    ca = _read_pair(out, CA_CERT, CA_KEY)
    if ca is None:
        ca = pki.create_ca(args.ca_common_name, key_type=args.key_type, lifetime=args.ca_lifetime)
        _write_pair(out, CA_CERT, CA_KEY, ca)
        print(f"created CA {out / CA_CERT}")
    else:
        print(f"reusing CA {out / CA_CERT}")
    extra_dns, ips = split_sans(args.san)
    dns = [*pki.service_dns_names(args.service, args.namespace, args.cluster_domain), *extra_dns]
    serving = pki.issue_serving_cert(ca, dns, ips, key_type=args.key_type, lifetime=args.lifetime)
    _write_serving(out, ca, serving, args.secret_name or f"{args.service}-tls", args.namespace)
    return 0


def cmd_renew(args: argparse.Namespace) -> int:
    out = Path(args.dir)
    ca = _read_pair(out, CA_CERT, CA_KEY)
    current = _read_pair(out, TLS_CERT, TLS_KEY)
    if ca is None or current is None:
        print(f"error: {out} must hold {CA_CERT}, {CA_KEY}, {TLS_CERT} and {TLS_KEY}", file=sys.stderr)
        return 2
    expiry = pki.not_after(current.cert_pem)
    if pki.is_signed_by(current.cert_pem, ca.cert_pem) and not pki.expires_within(
        current.cert_pem, args.within
    ):
        print(f"serving certificate valid until {expiry.isoformat()}; nothing to do")
        return 0
    renewed = pki.renew_serving_cert(ca, current, lifetime=args.lifetime)
    name, namespace = _secret_identity(out)
    _write_serving(out, ca, renewed, name, namespace)
    print(f"renewed serving certificate (was valid until {expiry.isoformat()})")
    return 0


def cmd_inject_ca(args: argparse.Namespace) -> int:
    ca_pem = Path(args.ca).read_bytes()
    for path in map(Path, args.files):
        try:
            path.write_text(manifests.inject_ca_bundle(path.read_text(), ca_pem))
        except ValueError as e:
            print(f"error: {path}: {e}", file=sys.stderr)
            return 1
        print(f"injected CA bundle into {path}")
    return 0


def cmd_cert_manager(args: argparse.Namespace) -> int:
    certificate = args.certificate_name or f"{args.service}-serving-cert"
    if args.annotation:
        for key, value in manifests.inject_ca_from_annotation(args.namespace, certificate).items():
            print(f"{key}: {value}")
        return 0
    docs = manifests.cert_manager_manifests(
        args.service,
        args.namespace,
        dns_names=pki.service_dns_names(args.service, args.namespace, args.cluster_domain),
        issuer_name=args.issuer_name or f"{args.service}-selfsigned",
        certificate_name=certificate,
        secret_name=args.secret_name or f"{args.service}-tls",
    )
    sys.stdout.write(manifests.dump(docs))
    return 0


def _read_pair(out: Path, cert: str, key: str) -> pki.KeyPair | None:
    if not (out / cert).is_file() or not (out / key).is_file():
        return None
    return pki.KeyPair((out / cert).read_bytes(), (out / key).read_bytes())


def _write_pair(out: Path, cert: str, key: str, pair: pki.KeyPair) -> None:
    _write_atomic(out / key, pair.key_pem, 0o600)
    _write_atomic(out / cert, pair.cert_pem, 0o644)


def _write_serving(out: Path, ca: pki.KeyPair, serving: pki.KeyPair, name: str, namespace: str) -> None:
    _write_pair(out, TLS_CERT, TLS_KEY, serving)
    secret = manifests.tls_secret(name, namespace, serving.cert_pem, serving.key_pem, ca.cert_pem)
    _write_atomic(out / SECRET, manifests.dump([secret]).encode(), 0o600)
    print(f"wrote {out / TLS_CERT}, {out / TLS_KEY} and Secret {namespace}/{name} in {out / SECRET}")


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    # A server polling these files must never read half a certificate.
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _secret_identity(out: Path) -> tuple[str, str]:
    try:
        meta = yaml.safe_load((out / SECRET).read_text())["metadata"]
        return str(meta["name"]), str(meta["namespace"])
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return "webhook-tls", "default"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m certs", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    create = sub.add_parser("create", help="create a CA (if absent) and a serving certificate")
    create.add_argument("--dir", required=True, help="output directory")
    _service_args(create)
    create.add_argument("--san", action="append", default=[], help="extra SAN (DNS or IP), repeatable")
    create.add_argument("--key-type", choices=pki.KEY_TYPES, default="ecdsa-p256")
    create.add_argument("--ca-common-name", default="modelservice-webhook-ca")
    create.add_argument("--ca-lifetime", type=parse_duration, default=pki.CA_LIFETIME, help="default 3650d")
    create.add_argument("--lifetime", type=parse_duration, default=pki.SERVING_LIFETIME, help="default 365d")
    create.add_argument("--secret-name", help="Secret name (default SERVICE-tls)")
    create.set_defaults(func=cmd_create)

    renew = sub.add_parser("renew", help="re-issue the serving certificate if it expires soon")
    renew.add_argument("--dir", required=True)
    renew.add_argument("--within", type=parse_duration, default=dt.timedelta(days=30), help="default 30d")
    renew.add_argument("--lifetime", type=parse_duration, default=pki.SERVING_LIFETIME, help="default 365d")
    renew.set_defaults(func=cmd_renew)

    inject = sub.add_parser("inject-ca", help="set clientConfig.caBundle in webhook configuration files")
    inject.add_argument("--ca", required=True, help="CA certificate PEM file (DIR/ca.crt)")
    inject.add_argument("files", nargs="+", help="YAML files to rewrite in place")
    inject.set_defaults(func=cmd_inject_ca)

    cm = sub.add_parser("cert-manager", help="print cert-manager Issuer + Certificate manifests")
    _service_args(cm)
    cm.add_argument("--issuer-name", help="default SERVICE-selfsigned")
    cm.add_argument("--certificate-name", help="default SERVICE-serving-cert")
    cm.add_argument("--secret-name", help="default SERVICE-tls")
    cm.add_argument("--annotation", action="store_true", help="print only the inject-ca-from annotation")
    cm.set_defaults(func=cmd_cert_manager)
    return parser


def _service_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--service", required=True, help="webhook Service name")
    p.add_argument("--namespace", required=True, help="webhook Service namespace")
    p.add_argument("--cluster-domain", default="cluster.local")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code
