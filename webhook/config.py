"""Webhook settings from flags, `WEBHOOK_*` environment variables and a settings file.

`WebhookConfig` declares every setting once (`shared.flags`): how the server runs, then the
operator settings both services share. Every flag `--some-flag` has the variable
`WEBHOOK_SOME_FLAG`; a flag given on the command line wins over the variable, which wins over
`--settings-file`, which wins over the default. Lists (`--allowed-image-prefix`) repeat the flag or
use a comma-separated variable. `describe()` prints the table of all flags.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import model_validator

from shared.flags import Flag, FlagSet, Settings
from shared.settings import OperatorSettings

ENV_PREFIX = "WEBHOOK_"
DEFAULT_CERT_DIR = Path("/tmp/k8s-webhook-server/serving-certs")
MAX_BODY_BYTES = 7 * 1024 * 1024  # the API server's own request cap is 3 MiB per object, x2 + slack
# Bodies being received and judged at once, by declared size: a handful of near-limit bodies, or
# thousands of ordinary ones, within the pod's memory limit (a body can take twice its size while
# read, and judging a large one several times that).
MAX_BYTES_IN_FLIGHT = 24 * 1024 * 1024


class WebhookConfig(Settings):
    """How the webhook server runs; `operator` holds the settings the admission rules read."""

    host: str = "0.0.0.0"
    """Address of the HTTPS admission server."""
    port: int = 9443
    """Port of the HTTPS admission server."""
    cert_dir: Path = DEFAULT_CERT_DIR
    """Directory holding tls.crt and tls.key."""
    cert_file: Path = DEFAULT_CERT_DIR / "tls.crt"
    """Serving certificate PEM; default: tls.crt in --cert-dir."""
    key_file: Path = DEFAULT_CERT_DIR / "tls.key"
    """Serving key PEM; default: tls.key in --cert-dir."""
    cert_poll_seconds: float = 10.0
    """How often, in seconds, the certificate files are checked for rotation."""
    metrics_host: str = "0.0.0.0"
    """Address of the plain-HTTP metrics server."""
    metrics_port: int = 8080
    """Port of /metrics; 0 picks a free port, -1 disables."""
    max_body_bytes: int = MAX_BODY_BYTES
    """Largest accepted request body, in bytes."""
    max_bytes_in_flight: int = MAX_BYTES_IN_FLIGHT
    """Request bodies received and judged at once, by declared size in bytes; more wait."""
    header_timeout: float = 10.0
    """Seconds a connection gets to send a request's headers, from its first byte."""
    body_timeout: float = 10.0
    """Seconds a request gets to send its body once its headers arrived."""
    keepalive_timeout: float = 30.0
    """Seconds an idle keep-alive connection stays open; keep it under the API server's 90."""
    shutdown_timeout: float = 30.0
    """Seconds in-flight requests get to finish on SIGTERM."""
    log_level: str = "INFO"
    """DEBUG, INFO, WARNING or ERROR."""
    persist_default_images: bool = True
    """Mutate writes the default images into the object."""
    operator: Annotated[OperatorSettings, Flag("")] = OperatorSettings()
    """The settings both services share; their flags carry no prefix."""

    @model_validator(mode="before")
    @classmethod
    def _cert_files_in_cert_dir(cls, data: Any) -> Any:
        # A file that is not given is the one in cert_dir, so naming the directory (where the
        # Secret is mounted) is enough; a given file still wins.
        if not isinstance(data, dict) or data.get("cert_dir") is None:
            return data
        cert_dir = Path(data["cert_dir"])
        return {"cert_file": cert_dir / "tls.crt", "key_file": cert_dir / "tls.key", **data}

    @model_validator(mode="after")
    def _limits_are_usable(self) -> Self:
        for name in ("header_timeout", "body_timeout", "keepalive_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"--{name.replace('_', '-')} must be a positive number of seconds")
        if self.max_body_bytes < 1 or self.max_bytes_in_flight < self.max_body_bytes:
            raise ValueError(
                "--max-bytes-in-flight must be at least --max-body-bytes, which must be positive"
            )
        return self


FLAG_SET = FlagSet(
    WebhookConfig,
    ENV_PREFIX,
    prog="python -m webhook",
    description="ModelService admission webhook (mutating and validating).",
    file_group="operator",
)
FLAGS = FLAG_SET.flags
env_name = FLAG_SET.env_name
build_parser = FLAG_SET.build_parser
describe = FLAG_SET.describe


def load(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> WebhookConfig:
    """Flags over environment over the settings file over defaults; bad values exit with argparse's
    usage message."""
    return FLAG_SET.load(argv, environ)
