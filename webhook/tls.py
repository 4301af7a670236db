"""The serving TLS context and its hot reload when the certificate files change.

Kubernetes rotates a mounted Secret by swapping a symlink, so the files change under a running
server. `CertReloader` polls a digest of both files and calls `load_cert_chain` on the live
`SSLContext`: new handshakes get the new certificate, established connections keep theirs, and no
listener restarts. A half-written pair (certificate and key from different rotations) fails to load;
the old pair stays in force and the next poll tries again.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import ssl
import tempfile
from collections.abc import Callable
from pathlib import Path

from cryptography import x509

log = logging.getLogger(__name__)


def server_context(cert_file: Path, key_file: Path) -> ssl.SSLContext:
    """A server context: TLS 1.2 or newer, the library's default ciphers, the given pair loaded."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert_file, key_file)
    return ctx


def expiry_timestamp(cert_pem: bytes) -> float:
    """Expiry of the first certificate in a PEM file, as a Unix timestamp."""
    return x509.load_pem_x509_certificate(cert_pem).not_valid_after_utc.timestamp()


def _load_checked(context: ssl.SSLContext, cert_pem: bytes, key_pem: bytes) -> None:
    """Load exactly the bytes that were hashed, after proving they form a pair.

    OpenSSL installs the certificate before it checks the key, so a failed `load_cert_chain` on
    the live context would leave it serving a certificate without its key. A scratch context
    takes that failure; the private copies keep a concurrent rotation from mixing files.
    """
    with tempfile.TemporaryDirectory(prefix="webhook-tls-") as tmp:
        cert_file, key_file = Path(tmp) / "tls.crt", Path(tmp) / "tls.key"
        key_file.touch(mode=0o600)
        key_file.write_bytes(key_pem)
        cert_file.write_bytes(cert_pem)
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert_file, key_file)
        context.load_cert_chain(cert_file, key_file)


class CertReloader:
    """Keeps `context` serving the current contents of `cert_file` and `key_file`."""

    def __init__(
        self,
        context: ssl.SSLContext,
        cert_file: Path,
        key_file: Path,
        on_change: Callable[[float], None] | None = None,
        on_error: Callable[[], None] | None = None,
    ) -> None:
        self.context = context
        self.cert_file = cert_file
        self.key_file = key_file
        self._on_change = on_change
        self._on_error = on_error
        self.digest, cert_pem, _ = self._read()
        self.not_after = expiry_timestamp(cert_pem)
        if on_change is not None:
            on_change(self.not_after)

    def _read(self) -> tuple[str, bytes, bytes]:
        cert_pem = self.cert_file.read_bytes()
        key_pem = self.key_file.read_bytes()
        return hashlib.sha256(cert_pem + b"\0" + key_pem).hexdigest(), cert_pem, key_pem

    def reload_if_changed(self) -> bool:
        """Load the files into the live context if their digest changed; True when it did."""
        try:
            digest, cert_pem, key_pem = self._read()
            if digest == self.digest:
                return False
            not_after = expiry_timestamp(cert_pem)
            _load_checked(self.context, cert_pem, key_pem)
        except (OSError, ssl.SSLError, ValueError) as e:
            # Mid-rotation the pair can be inconsistent; the old certificate keeps serving.
            log.warning("certificate reload failed; keeping the current certificate", extra={"error": str(e)})
            if self._on_error is not None:
                self._on_error()
            return False
        self.digest, self.not_after = digest, not_after
        log.info("certificate reloaded", extra={"cert_file": str(self.cert_file), "not_after": not_after})
        if self._on_change is not None:
            self._on_change(not_after)
        return True

    async def run(self, interval: float) -> None:
        """Poll forever (until cancelled) every `interval` seconds."""
        while True:
            await asyncio.sleep(interval)
            self.reload_if_changed()
