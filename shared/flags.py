"""Command-line flags with environment-variable twins, for both services.

Every flag ``--some-flag`` has a variable ``<PREFIX>SOME_FLAG``; a flag given on the command line
wins over the variable, which wins over the flag's default. Repeatable flags take a
comma-separated variable. One implementation keeps the two services' configuration behaving the
same way, and lets the README's configuration tables be generated from the flag tables.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn


@dataclass(frozen=True)
class Flag:
    """One setting: ``--name``, its help text, default, converter, and whether it repeats."""

    name: str
    help: str
    default: Any = None
    convert: Callable[[str], Any] = str
    repeat: bool = False

    @property
    def key(self) -> str:
        """The flag's name as a Python identifier (``default-epp-image`` -> ``default_epp_image``)."""
        return self.name.replace("-", "_")


def parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def parse_pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


@dataclass(frozen=True)
class FlagSet:
    """The flags of one service, read from argv and an environment."""

    prefix: str
    flags: tuple[Flag, ...]
    prog: str
    description: str

    def env_name(self, flag: str) -> str:
        return self.prefix + flag.upper().replace("-", "_")

    def build_parser(self) -> argparse.ArgumentParser:
        parser = argparse.ArgumentParser(prog=self.prog, description=self.description)
        for f in self.flags:
            kwargs: dict[str, Any] = {"help": f"{f.help} [env {self.env_name(f.name)}]", "type": f.convert}
            if f.repeat:
                kwargs["action"] = "append"
            parser.add_argument(f"--{f.name}", **kwargs)
        return parser

    def parse(self, argv: Sequence[str] | None, environ: Mapping[str, str] | None) -> dict[str, Any]:
        """Every flag's value by key: flag, else variable, else default (None when it has none).

        A value that does not convert exits with argparse's usage message, naming the variable.
        """
        parser = self.build_parser()
        args = vars(parser.parse_args(argv))
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in self.flags:
            value = args.get(f.key)
            raw = env.get(self.env_name(f.name))
            if value is None and raw is not None:
                try:
                    parts = [v.strip() for v in raw.split(",") if v.strip()]
                    value = [f.convert(v) for v in parts] if f.repeat else f.convert(raw)
                except (ValueError, argparse.ArgumentTypeError) as e:
                    parser.error(f"{self.env_name(f.name)}={raw!r}: {e}")
            values[f.key] = f.default if value is None else value
        return values

    def fail(self, message: str) -> NoReturn:
        """Exit with the usage message and ``message``, as argparse does for a bad flag."""
        self.build_parser().error(message)

    def describe(self) -> str:
        """A Markdown table of every flag, its environment variable and default."""
        rows = [
            f"| `--{f.name}` | `{self.env_name(f.name)}` | {'' if f.default is None else f'`{f.default!r}`'} "
            f"| {f.help} |"
            for f in self.flags
        ]
        return "\n".join(["| flag | environment | default | meaning |", "| --- | --- | --- | --- |", *rows])
