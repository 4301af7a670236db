"""Render the configuration reference of both services from their flag tables.

The README's configuration section is this script's output between two marker comments; a test
keeps them equal, so a new flag cannot go undocumented. Run ``python -m tools.gen_config_docs
--write`` after changing a flag.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol

from reconciler import config as reconciler_config
from webhook import config as webhook_config

README = Path(__file__).resolve().parent.parent / "README.md"
BEGIN = "<!-- BEGIN GENERATED CONFIGURATION (python -m tools.gen_config_docs --write) -->"
END = "<!-- END GENERATED CONFIGURATION -->"


class _Flag(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def help(self) -> str: ...
    @property
    def repeat(self) -> bool: ...


def _table(flags: Iterable[_Flag], env_name: Callable[[str], str]) -> str:
    """One row per flag; the reconciler's flags carry their defaults, the webhook's name them in the help."""
    rows = ["| flag | environment variable | meaning (default) |", "| --- | --- | --- |"]
    for flag in flags:
        suffix = " (repeatable)" if flag.repeat else ""
        meaning = flag.help.replace("|", "/") + _default(flag)
        rows.append(f"| `--{flag.name}`{suffix} | `{env_name(flag.name)}` | {meaning} |")
    return "\n".join(rows)


def _default(flag: _Flag) -> str:
    value = getattr(flag, "default", None)
    if value in (None, (), ""):
        return ""
    return f" (`{str(value).lower() if isinstance(value, bool) else value}`)"


def render() -> str:
    """The generated block, markers included."""
    return "\n".join(
        [
            BEGIN,
            "",
            "### Webhook (`python -m webhook`)",
            "",
            _table(webhook_config.FLAGS, webhook_config.env_name),
            "",
            "### Reconciler (`python -m reconciler`)",
            "",
            _table(reconciler_config.FLAGS, reconciler_config.env_name),
            "",
            END,
        ]
    )


def current(text: str) -> str | None:
    """The generated block as it stands in ``text``, or None without markers."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < 0:
        return None
    return text[start : end + len(END)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="replace the block in README.md")
    args = parser.parse_args(argv)
    block = render()
    if not args.write:
        print(block)
        return 0
    text = README.read_text()
    old = current(text)
    if old is None:
        print(f"README.md has no {BEGIN!r} marker", file=sys.stderr)
        return 1
    README.write_text(text.replace(old, block))
    return 0


if __name__ == "__main__":
    sys.exit(main())
