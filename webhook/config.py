"""Webhook settings from command-line flags and `WEBHOOK_*` environment variables.

Every flag `--some-flag` has the variable `WEBHOOK_SOME_FLAG`; a flag given on the command line wins
over the variable. Lists (`--allowed-image-prefix`) repeat the flag or use a comma-separated
variable. `describe()` prints the table the README shows.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.settings import OperatorSettings

ENV_PREFIX = "WEBHOOK_"
DEFAULT_CERT_DIR = Path("/tmp/k8s-webhook-server/serving-certs")
MAX_BODY_BYTES = 7 * 1024 * 1024  # the API server's own request cap is 3 MiB per object, x2 + slack


@dataclass(frozen=True)
class WebhookConfig:
    """How the webhook server runs; `operator` holds the settings the admission rules read."""

    host: str = "0.0.0.0"
    port: int = 9443
    cert_file: Path = DEFAULT_CERT_DIR / "tls.crt"
    key_file: Path = DEFAULT_CERT_DIR / "tls.key"
    cert_poll_seconds: float = 10.0
    metrics_host: str = "0.0.0.0"
    metrics_port: int = 8080
    max_body_bytes: int = MAX_BODY_BYTES
    shutdown_timeout: float = 30.0
    log_level: str = "INFO"
    persist_default_images: bool = True
    operator: OperatorSettings = field(default_factory=OperatorSettings)


@dataclass(frozen=True)
class _Flag:
    name: str
    help: str
    convert: Callable[[str], Any] = str
    repeat: bool = False


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


FLAGS = (
    _Flag("host", "address of the HTTPS admission server (default 0.0.0.0)"),
    _Flag("port", "port of the HTTPS admission server (default 9443)", int),
    _Flag("cert-dir", f"directory holding tls.crt and tls.key (default {DEFAULT_CERT_DIR})", Path),
    _Flag("cert-file", "serving certificate PEM (overrides --cert-dir)", Path),
    _Flag("key-file", "serving key PEM (overrides --cert-dir)", Path),
    _Flag(
        "cert-poll-seconds", "how often the certificate files are checked for rotation (default 10)", float
    ),
    _Flag("metrics-host", "address of the plain-HTTP metrics server (default 0.0.0.0)"),
    _Flag("metrics-port", "port of /metrics; 0 picks a free port, -1 disables (default 8080)", int),
    _Flag("max-body-bytes", f"largest accepted request body (default {MAX_BODY_BYTES})", int),
    _Flag("shutdown-timeout", "seconds in-flight requests get to finish on SIGTERM (default 30)", float),
    _Flag("log-level", "DEBUG, INFO, WARNING or ERROR (default INFO)"),
    _Flag("persist-default-images", "mutate writes the default images into the object (default true)", _bool),
    _Flag("default-engine-image", "vLLM image for an empty spec.engine.image"),
    _Flag("default-routing-proxy-image", "routing sidecar image for an empty spec.routingProxy.image"),
    _Flag("default-epp-image", "EPP image for an empty spec.inferencePool.endpointPicker.image"),
    _Flag("kit-image", "KitOps image of the model-unpack init container (restart warnings)"),
    _Flag(
        "allowed-image-prefix",
        "allowed image prefix for engine, proxy and EPP; repeatable; none = all",
        repeat=True,
    ),
)
_OPERATOR_FLAGS = ("default-engine-image", "default-routing-proxy-image", "default-epp-image", "kit-image")


def env_name(flag: str) -> str:
    return ENV_PREFIX + flag.upper().replace("-", "_")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m webhook", description="ModelService admission webhook (mutating and validating)."
    )
    for f in FLAGS:
        kwargs: dict[str, Any] = {"help": f"{f.help} [env {env_name(f.name)}]", "type": f.convert}
        if f.repeat:
            kwargs["action"] = "append"
        parser.add_argument(f"--{f.name}", **kwargs)
    return parser


def load(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> WebhookConfig:
    """Flags over environment over defaults; bad values exit with argparse's usage message."""
    parser = build_parser()
    args = vars(parser.parse_args(argv))
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for f in FLAGS:
        key = f.name.replace("-", "_")
        value = args.get(key)
        raw = env.get(env_name(f.name))
        if value is None and raw is not None:
            try:
                value = (
                    [f.convert(v.strip()) for v in raw.split(",") if v.strip()]
                    if f.repeat
                    else f.convert(raw)
                )
            except (ValueError, argparse.ArgumentTypeError) as e:
                parser.error(f"{env_name(f.name)}={raw!r}: {e}")
        if value is not None:
            values[key] = value
    return _config(values)


def _config(values: dict[str, Any]) -> WebhookConfig:
    cert_dir = values.pop("cert_dir", DEFAULT_CERT_DIR)
    values.setdefault("cert_file", cert_dir / "tls.crt")
    values.setdefault("key_file", cert_dir / "tls.key")
    operator: dict[str, Any] = {}
    for name in _OPERATOR_FLAGS:
        key = name.replace("-", "_")
        if key in values:
            operator[key] = values.pop(key)
    if "allowed_image_prefix" in values:
        operator["allowed_image_prefixes"] = tuple(values.pop("allowed_image_prefix"))
    return WebhookConfig(**values, operator=OperatorSettings(**operator))


def describe() -> str:
    """A Markdown table of every flag and its environment variable."""
    rows = [f"| `--{f.name}` | `{env_name(f.name)}` | {f.help} |" for f in FLAGS]
    return "\n".join(["| flag | environment | meaning |", "| --- | --- | --- |", *rows])
