"""The vLLM flags the operator sets, and every spelling of them that vLLM's parser accepts.

The serving container runs `vllm serve <spec.model.mountPath> --port ... --served-model-name ...
[--tensor-parallel-size ...]` and appends `spec.engine.args` after the operator's own arguments.
argparse keeps the last value of a flag, so a user argument that sets an owned flag would silently
override the spec (and the GPU count the operator derived from it). Comparing exact strings is not
enough, because vLLM's parser accepts more spellings than the canonical one. What it accepts, read
from vLLM's source:

- Underscores. `FlexibleArgumentParser.parse_args` (vllm/utils/argparse_utils.py) rewrites `_` to
  `-` in an argument starting with `--`, from after the `--` to the first `.` (before any `=`), so
  `--tensor_parallel_size=8` is `--tensor-parallel-size=8`. Single-dash arguments are not rewritten.
- Short aliases. `EngineArgs.add_cli_args` (vllm/engine/arg_utils.py) registers `-tp`, `-dp` and
  `-dpl` for the three parallel sizes. `--port` (`FrontendArgs`, vllm/entrypoints/openai/cli_args.py),
  `--served-model-name` and `--model` have none.
- Abbreviations. Neither `FlexibleArgumentParser` nor the `vllm serve` subparser
  (vllm/entrypoints/cli/main.py) passes `allow_abbrev=False`, so argparse's prefix matching is on:
  a unique prefix such as `--served-model` selects `--served-model-name`, and single-dash options
  match by prefix as well (`-t` for `-tp`, in CPython's `_get_option_tuples`). Whether a prefix is
  unique depends on every option of the vLLM version in the image, which the operator cannot know;
  a prefix that is not unique makes vLLM exit with "ambiguous option". Either way the pod would
  not run what the spec says, so every prefix of an owned flag counts as that flag.
- Values. `--flag=value` and `-tp=8` split at the first `=`. A value attached without `=` (`-tp8`)
  is argparse's form for single-character options only; no alias is one, so vLLM rejects `-tp8`
  as an unrecognized argument and it is not a spelling of `-tp`.
- Dotted keys. `--flag.key value` and `-tp.key=value` are rewritten to the flag followed by a JSON
  object (the parser's form for nested config), so they set the flag as well.
- `--model`. `vllm serve` moves a `--model X` argument into the model positional, which the
  operator already fills with the mount path.

Not covered: `--config file.yaml` reads flags from a file inside the image, which admission cannot
see. Command-line flags win over the file, so only flags the operator omits (parallel sizes of 1)
could come from there.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OwnedFlag:
    """One vLLM flag the operator passes, with the spec field its value comes from."""

    name: str
    """The canonical spelling, e.g. `--tensor-parallel-size`."""
    aliases: tuple[str, ...]
    """vLLM's single-dash aliases, e.g. `-tp`."""
    source: str
    """Where the operator takes the value from, for the denial message."""
    many: bool = False
    """Takes one or more values (argparse `nargs="+"`): every following non-option argument."""


def _per_role(field: str) -> str:
    return f"spec.decode.parallelism.{field} and spec.prefill.parallelism.{field}"


OWNED_FLAGS = (
    OwnedFlag("--port", (), "spec.engine.port, or spec.routingProxy.targetPort behind the routing proxy"),
    # vLLM declares served_model_name as `str | list[str]`, which its argparse glue turns into nargs="+".
    OwnedFlag("--served-model-name", (), "spec.model.name", many=True),
    OwnedFlag("--tensor-parallel-size", ("-tp",), _per_role("tensor")),
    OwnedFlag("--data-parallel-size", ("-dp",), _per_role("data")),
    OwnedFlag("--data-parallel-size-local", ("-dpl",), _per_role("dataLocal")),
    OwnedFlag("--model", (), "spec.model.mountPath, passed as the model argument"),
)


def option_name(arg: str) -> str:
    """The option part of an argument as written: before the first `=`, then before the first `.`."""
    return arg.partition("=")[0].partition(".")[0]


def _spellings(names: list[tuple[str, OwnedFlag]], shortest: int) -> dict[str, OwnedFlag]:
    """Every spelling that selects a flag: exact names first (argparse's order), then each prefix
    of at least `shortest` characters for the first flag it begins."""
    table = dict(names)
    for name, flag in names:
        for end in range(shortest, len(name)):
            table.setdefault(name[:end], flag)
    return table


# Looked up once per argument of every admission, so the spellings are computed at import.
_LONG = _spellings([(flag.name, flag) for flag in OWNED_FLAGS], 3)  # `--` alone ends the options
_SHORT = _spellings([(a, flag) for flag in OWNED_FLAGS for a in flag.aliases], 2)  # `-` is stdin


def owned_flag(arg: str) -> OwnedFlag | None:
    """The owned flag that `arg` sets in vLLM, or None when it sets none.

    `arg` is one element of the container's args. An exact spelling or alias wins over a prefix
    (argparse's order), so `--data-parallel-size` is that flag and not an abbreviation of
    `--data-parallel-size-local`; a prefix of several owned flags maps to the first of them.
    """
    if not arg.startswith("-"):
        return None
    name = option_name(arg)
    if name.startswith("--"):
        return _LONG.get(name.replace("_", "-"))
    return _SHORT.get(name)


def takes_next(arg: str) -> bool:
    """True when vLLM reads the owned flag's value from the following argument(s), not from `arg`."""
    return "=" not in arg
