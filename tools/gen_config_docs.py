"""Render the configuration reference of both services from their settings declarations.

The README's configuration section is this script's output between two marker comments; a test
keeps them equal, so a new setting cannot go undocumented. The operator settings are one table,
since both services declare them once and read them alike; each service's own settings follow.
Run ``python -m tools.gen_config_docs --write`` after changing a setting.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from reconciler import config as reconciler_config
from shared.flags import FlagSet, Option
from webhook import config as webhook_config

README = Path(__file__).resolve().parent.parent / "README.md"
BEGIN = "<!-- BEGIN GENERATED CONFIGURATION (python -m tools.gen_config_docs --write) -->"
END = "<!-- END GENERATED CONFIGURATION -->"


def _meaning(flag: Option) -> str:
    default = f" (`{flag.shown_default}`)" if flag.shown_default else ""
    return flag.help.replace("|", "/") + default


def _flag(flag: Option) -> str:
    return f"`--{flag.name}`" + (" (repeatable)" if flag.repeat else "")


def _operator_table() -> str:
    """One row per operator setting: its flag, each service's variable and its settings-file key."""
    group = reconciler_config.FLAG_SET.file_group
    rows = [
        "| flag | webhook variable | reconciler variable | settings file key | meaning (default) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for flag in reconciler_config.FLAGS:
        if flag.path[:1] == (group,):
            variables = f"`{webhook_config.env_name(flag.name)}` | `{reconciler_config.env_name(flag.name)}`"
            key = ".".join(flag.path[1:])
            rows.append(f"| {_flag(flag)} | {variables} | `{key}` | {_meaning(flag)} |")
    return "\n".join(rows)


def _service_table(flag_set: FlagSet[Any]) -> str:
    """One row per setting of the service alone (its operator settings are in the table above)."""
    rows = ["| flag | environment variable | meaning (default) |", "| --- | --- | --- |"]
    for flag in flag_set.flags:
        if flag.path[:1] != (flag_set.file_group,):
            rows.append(f"| {_flag(flag)} | `{flag_set.env_name(flag.name)}` | {_meaning(flag)} |")
    return "\n".join(rows)


def render() -> str:
    """The generated block, markers included."""
    return "\n".join(
        [
            BEGIN,
            "",
            "### Operator settings (both services)",
            "",
            _operator_table(),
            "",
            "### Webhook (`python -m webhook`)",
            "",
            _service_table(webhook_config.FLAG_SET),
            "",
            "### Reconciler (`python -m reconciler`)",
            "",
            _service_table(reconciler_config.FLAG_SET),
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
