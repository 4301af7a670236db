"""Certificates for the admission webhook: a private CA, serving certificates, the TLS Secret,
CA bundle injection into webhook configurations, and the cert-manager alternative."""
