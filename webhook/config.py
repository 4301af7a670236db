"""Webhook settings from command-line flags and `WEBHOOK_*` environment variables.

Every flag `--some-flag` has the variable `WEBHOOK_SOME_FLAG` (`shared.flags`); a flag given on the
command line wins over the variable. Lists (`--allowed-image-prefix`) repeat the flag or use a
comma-separated variable. `describe()` prints the table of all flags.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.flags import Flag, FlagSet, parse_bool
from shared.settings import OperatorSettings

ENV_PREFIX = "WEBHOOK_"
DEFAULT_CERT_DIR = Path("/tmp/k8s-webhook-server/serving-certs")
MAX_BODY_BYTES = 7 * 1024 * 1024  # the API server's own request cap is 3 MiB per object, x2 + slack
# Bodies being received and judged at once, by declared size: a handful of near-limit bodies, or
# thousands of ordinary ones, within the pod's memory limit (a body can take twice its size while
# read, and judging a large one several times that).
MAX_BYTES_IN_FLIGHT = 24 * 1024 * 1024


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
    max_bytes_in_flight: int = MAX_BYTES_IN_FLIGHT
    header_timeout: float = 10.0
    body_timeout: float = 10.0
    keepalive_timeout: float = 30.0
    shutdown_timeout: float = 30.0
    log_level: str = "INFO"
    persist_default_images: bool = True
    operator: OperatorSettings = field(default_factory=OperatorSettings)

    def __post_init__(self) -> None:
        for name in ("header_timeout", "body_timeout", "keepalive_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"--{name.replace('_', '-')} must be a positive number of seconds")
        if self.max_body_bytes < 1 or self.max_bytes_in_flight < self.max_body_bytes:
            raise ValueError(
                "--max-bytes-in-flight must be at least --max-body-bytes, which must be positive"
            )


FLAGS = (
    Flag("host", "address of the HTTPS admission server (default 0.0.0.0)"),
    Flag("port", "port of the HTTPS admission server (default 9443)", convert=int),
    Flag("cert-dir", f"directory holding tls.crt and tls.key (default {DEFAULT_CERT_DIR})", convert=Path),
    Flag("cert-file", "serving certificate PEM (overrides --cert-dir)", convert=Path),
    Flag("key-file", "serving key PEM (overrides --cert-dir)", convert=Path),
    Flag(
        "cert-poll-seconds",
        "how often the certificate files are checked for rotation (default 10)",
        convert=float,
    ),
    Flag("metrics-host", "address of the plain-HTTP metrics server (default 0.0.0.0)"),
    Flag("metrics-port", "port of /metrics; 0 picks a free port, -1 disables (default 8080)", convert=int),
    Flag("max-body-bytes", f"largest accepted request body (default {MAX_BODY_BYTES})", convert=int),
    Flag(
        "max-bytes-in-flight",
        "request bodies received and judged at once, by declared size; more wait "
        f"(default {MAX_BYTES_IN_FLIGHT})",
        convert=int,
    ),
    Flag(
        "header-timeout",
        "seconds a connection gets to send a request's headers, from its first byte (default 10)",
        convert=float,
    ),
    Flag(
        "body-timeout",
        "seconds a request gets to send its body once its headers arrived (default 10)",
        convert=float,
    ),
    Flag(
        "keepalive-timeout",
        "seconds an idle keep-alive connection stays open; keep it under the API server's 90 (default 30)",
        convert=float,
    ),
    Flag(
        "shutdown-timeout", "seconds in-flight requests get to finish on SIGTERM (default 30)", convert=float
    ),
    Flag("log-level", "DEBUG, INFO, WARNING or ERROR (default INFO)"),
    Flag(
        "persist-default-images",
        "mutate writes the default images into the object (default true)",
        convert=parse_bool,
    ),
    Flag("default-engine-image", "vLLM image for an empty spec.engine.image"),
    Flag("default-routing-proxy-image", "routing sidecar image for an empty spec.routingProxy.image"),
    Flag(
        "epp-generation",
        "EPP generation, which picks the default EPP image; set it as on the reconciler "
        "(default gateway-api-inference-extension)",
    ),
    Flag(
        "default-epp-image",
        "EPP image for an empty spec.inferencePool.endpointPicker.image (default: the EPP generation's)",
    ),
    Flag("kit-image", "KitOps image of the model-unpack init container (restart warnings)"),
    Flag(
        "allowed-image-prefix",
        "allowed image prefix for engine, proxy and EPP; repeatable; none = all",
        repeat=True,
    ),
)
_OPERATOR_FLAGS = (
    "default-engine-image",
    "default-routing-proxy-image",
    "default-epp-image",
    "epp-generation",
    "kit-image",
)


FLAG_SET = FlagSet(
    ENV_PREFIX,
    FLAGS,
    prog="python -m webhook",
    description="ModelService admission webhook (mutating and validating).",
)
env_name = FLAG_SET.env_name
build_parser = FLAG_SET.build_parser
describe = FLAG_SET.describe


def load(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> WebhookConfig:
    """Flags over environment over defaults; bad values exit with argparse's usage message."""
    # The webhook's flags carry no defaults of their own: WebhookConfig's fields are the defaults.
    values = {k: v for k, v in FLAG_SET.parse(argv, environ).items() if v is not None}
    try:
        return _config(values)
    except ValueError as e:  # pydantic's ValidationError of a setting, e.g. a malformed default image
        FLAG_SET.fail(str(e))


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
