"""Operator-owned vLLM flags are denied in every spelling vLLM's parser accepts, and only those.

The spellings come from `shared.engine_flags`, whose docstring cites the vLLM source for each
fact. `test_stdlib_argparse_agrees` checks the argparse half of those facts on the running Python:
a parser with vLLM's option strings around the owned flags never sets an owned flag from an
argument the module lets through.
"""

from __future__ import annotations

import argparse
import json
from typing import Any, NoReturn

import pytest

from shared import defaulting, engine_flags, validation
from shared.api import ModelService
from shared.builders import vllm
from shared.settings import OperatorSettings
from tests.webhook import samples
from webhook import handling

SETTINGS = OperatorSettings()
TENSOR = "spec.decode.parallelism.tensor and spec.prefill.parallelism.tensor"
FLAGS = {flag.name: flag for flag in engine_flags.OWNED_FLAGS}


def _underscored(name: str) -> str:
    return "--" + name[2:].replace("-", "_")


def _spellings(flag: engine_flags.OwnedFlag) -> list[str]:
    """Every accepted spelling of `flag`, with the value attached or following."""
    names = [flag.name, _underscored(flag.name), *flag.aliases]
    names += [flag.name[:n] for n in range(3, len(flag.name))]  # abbreviations, down to `--x`
    names += [alias[:n] for alias in flag.aliases for n in range(2, len(alias))]  # `-t` for `-tp`
    spellings = [*names, *(f"{n}=8" for n in names), f"{flag.name}.key=8", f"{flag.name}.key"]
    return list(dict.fromkeys(spellings))  # `--port` has no underscore form of its own


SPELLINGS = [(spelling, flag) for flag in engine_flags.OWNED_FLAGS for spelling in _spellings(flag)]

# Arguments that contain an owned flag's text but set none of them. The vLLM options among them
# are real neighbours of the owned flags (vllm/engine/arg_utils.py, vllm/entrypoints/openai/cli_args.py).
NOT_OWNED = [
    "--served-model-name-suffix",
    "--model-impl",
    "--model-loader-extra-config",
    "--max-model-len",
    "--pipeline-parallel-size",
    "--decode-context-parallel-size",
    "--data-parallel-rpc-port",
    "--data-parallel-size-locals",
    "--data-parallel-backend=mp",
    "--no-data-parallel-hybrid-lb",
    "--port-range",
    "--tensor-parallel-sizes",
    "-pp",
    "-dcp",
    "-dpp",
    "-dpa",
    "-dpn",
    "-tp8",  # argparse attaches a value without `=` only to single-character options
    "-tensor-parallel-size",
    "---port",
    "--chat-template=--port",
    "8",
    "-1",
    "-",
    "--",
    "",
]


def _review_message(args: list[str]) -> dict[str, Any]:
    obj = defaulting.defaulted(samples.with_changes(samples.minimal(), "spec.engine.args", args), SETTINGS)
    answer = handling.handle(
        json.dumps(samples.review(obj)).encode(), "application/json", "validate", SETTINGS
    )
    assert answer.status == 200
    response: dict[str, Any] = json.loads(answer.body)["response"]
    return response


def _errors(args: list[str]) -> list[str]:
    obj = samples.with_changes(samples.minimal(), "spec.engine.args", args)
    return [str(e) for e in validation.validate(defaulting.defaulted(obj, SETTINGS), SETTINGS).errors]


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (
            ["-tp", "8"],
            f"spec.engine.args[0]: Forbidden: -tp (--tensor-parallel-size) is set by the operator (from "
            f"{TENSOR}); remove it from args",
        ),
        (
            ["--tensor_parallel_size=8"],
            "spec.engine.args[0]: Forbidden: --tensor_parallel_size (--tensor-parallel-size) is set by the "
            f"operator (from {TENSOR}); remove it from args",
        ),
        (
            ["--served_model_name=x"],
            "spec.engine.args[0]: Forbidden: --served_model_name (--served-model-name) is set by the "
            "operator (from spec.model.name); remove it from args",
        ),
        (
            ["-dp", "2"],
            "spec.engine.args[0]: Forbidden: -dp (--data-parallel-size) is set by the operator (from "
            "spec.decode.parallelism.data and spec.prefill.parallelism.data); remove it from args",
        ),
        (
            ["--data_parallel_size_local"],
            "spec.engine.args[0]: Forbidden: --data_parallel_size_local (--data-parallel-size-local) is set "
            "by the operator (from spec.decode.parallelism.dataLocal and "
            "spec.prefill.parallelism.dataLocal); remove it from args",
        ),
    ],
    ids=["-tp 8", "--tensor_parallel_size=8", "--served_model_name=x", "-dp 2", "--data_parallel_size_local"],
)
def test_the_reported_spellings_are_denied_naming_both_spellings(args: list[str], error: str) -> None:
    assert _errors(args) == [error]


def _abbreviates(name: str, flag: engine_flags.OwnedFlag) -> bool:
    name = name.replace("_", "-") if name.startswith("--") else name
    return any(s.startswith(name) for s in (flag.name, *flag.aliases))


@pytest.mark.parametrize(("spelling", "flag"), SPELLINGS, ids=[s for s, _ in SPELLINGS])
def test_every_spelling_of_an_owned_flag_maps_to_a_flag_it_abbreviates(
    spelling: str, flag: engine_flags.OwnedFlag
) -> None:
    found = engine_flags.owned_flag(spelling)
    assert found is not None
    name = engine_flags.option_name(spelling)
    # An abbreviation shared by two owned flags (`--data-parallel-s`, `-d`) maps to the first of them.
    assert found == flag or (_abbreviates(name, found) and _abbreviates(name, flag))


@pytest.mark.parametrize(("spelling", "flag"), SPELLINGS, ids=[s for s, _ in SPELLINGS])
def test_every_spelling_is_denied_at_its_index_through_the_webhook(
    spelling: str, flag: engine_flags.OwnedFlag
) -> None:
    response = _review_message(["--enforce-eager", spelling, "8"])
    assert response["allowed"] is False
    assert response["status"]["code"] == 422
    written = engine_flags.option_name(spelling)
    assert f"spec.engine.args[1]: Forbidden: {written}" in response["status"]["message"]
    assert [c["field"] for c in response["status"]["details"]["causes"]] == ["spec.engine.args[1]"]


@pytest.mark.parametrize("arg", NOT_OWNED, ids=[repr(a) for a in NOT_OWNED])
def test_arguments_that_only_contain_an_owned_flags_text_pass(arg: str) -> None:
    assert engine_flags.owned_flag(arg) is None
    assert _review_message([arg])["allowed"] is True


def test_the_canonical_spelling_names_the_flag_once() -> None:
    assert _errors(["--port=1"]) == [
        "spec.engine.args[0]: Forbidden: --port is set by the operator (from spec.engine.port, or "
        "spec.routingProxy.targetPort behind the routing proxy); remove it from args"
    ]


@pytest.mark.parametrize(
    ("args", "paths"),
    [
        (["-tp", "/models"], ["spec.engine.args[0]"]),
        (["--served-model-name", "a", "b", "/models"], ["spec.engine.args[0]"]),
        (["--served-model", "--port"], ["spec.engine.args[0]", "spec.engine.args[1]"]),
        (["--port=1", "/models"], ["spec.engine.args[0]", "spec.engine.args[1]"]),
        (["--port.key", "/models"], ["spec.engine.args[0]"]),
        (["-dp", "2", "/models"], ["spec.engine.args[0]", "spec.engine.args[2]"]),
    ],
    ids=[
        "value of a denied flag is not the model path",
        "every value of --served-model-name (nargs=+) goes with it",
        "an owned flag where a value was expected is denied too",
        "an attached value leaves the next argument a positional",
        "a dotted key reads the next argument as its value",
        "one value only for a single-valued flag",
    ],
)
def test_a_denied_flags_values_are_not_read_as_anything_else(args: list[str], paths: list[str]) -> None:
    assert [e.split(":")[0] for e in _errors(args)] == paths


def test_every_flag_the_builder_passes_is_owned() -> None:
    obj = samples.with_changes(
        samples.minimal(), "spec.decode.parallelism", {"tensor": 2, "data": 2, "dataLocal": 2}
    )
    ms = ModelService.model_validate(defaulting.defaulted(obj, SETTINGS))
    args = vllm.vllm_args(ms, ms.spec.decode, 8000)
    passed = [a for a in args if a.startswith("-")]
    assert passed == [
        "--port",
        "--served-model-name",
        "--tensor-parallel-size",
        "--data-parallel-size",
        "--data-parallel-size-local",
    ]
    assert all(FLAGS[a] == engine_flags.owned_flag(a) for a in passed)
    assert args[0] == ms.spec.model.mount_path, "the model positional, which --model would replace"


# --- the argparse half of the facts, on this Python ----------------------------------------------

# Option strings of `vllm serve` that share a prefix with an owned flag or alias (vLLM's
# arg_utils.py and cli_args.py), so abbreviations resolve or collide as they do in vLLM.
_NEIGHBOURS = [
    ("--pipeline-parallel-size", "-pp"),
    ("--decode-context-parallel-size", "-dcp"),
    ("--data-parallel-rank", "-dpn"),
    ("--data-parallel-start-rank", "-dpr"),
    ("--data-parallel-address", "-dpa"),
    ("--data-parallel-rpc-port", "-dpp"),
    ("--data-parallel-backend", "-dpb"),
    ("--model-impl",),
    ("--model-loader-extra-config",),
    ("--pooler-config",),
    ("--max-model-len",),
]


class _Refused(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _Refused(message)


def _vllm_like_parser() -> _Parser:
    parser = _Parser(prog="vllm serve")  # allow_abbrev left on, as vLLM leaves it
    parser.add_argument("model_tag", nargs="?")
    for flag in engine_flags.OWNED_FLAGS:
        parser.add_argument(flag.name, *flag.aliases, nargs="+" if flag.many else None)
    for strings in _NEIGHBOURS:
        parser.add_argument(*strings)
    parser.add_argument("--data-parallel-hybrid-lb", action=argparse.BooleanOptionalAction)
    return parser


def _rewritten(arg: str) -> str:
    """vLLM's underscore rewrite of a `--name[=value]` argument (FlexibleArgumentParser.parse_args)."""
    if not arg.startswith("--"):
        return arg
    name, sep, value = arg.partition("=")
    return name.replace("_", "-") + sep + value


def _dest(flag: engine_flags.OwnedFlag) -> str:
    return flag.name[2:].replace("-", "_")


def _owned_dests_set(args: list[str]) -> set[str] | None:
    """The owned flags argparse sets from `args` after vLLM's underscore rewrite; None if refused."""
    try:
        namespace = _vllm_like_parser().parse_args(["/models", *map(_rewritten, args)])
    except _Refused:
        return None
    return {_dest(f) for f in engine_flags.OWNED_FLAGS if getattr(namespace, _dest(f)) is not None}


_UNDOTTED = [(s, f) for s, f in SPELLINGS if "." not in s]  # the dotted form is vLLM's own rewrite


@pytest.mark.parametrize(("spelling", "flag"), _UNDOTTED, ids=[s for s, _ in _UNDOTTED])
def test_stdlib_argparse_agrees_an_owned_spelling_sets_that_flag_or_is_refused(
    spelling: str, flag: engine_flags.OwnedFlag
) -> None:
    found = _owned_dests_set([spelling] if "=" in spelling else [spelling, "8"])
    owned = engine_flags.owned_flag(spelling)
    assert owned is not None
    # Refused: an abbreviation that is ambiguous here (`--p`), or `-t=8` before CPython 3.12's
    # single-dash `=` handling. Either way vLLM would not start with the spec's value.
    assert found is None or found == {_dest(owned)}


@pytest.mark.parametrize("arg", NOT_OWNED, ids=[repr(a) for a in NOT_OWNED])
def test_stdlib_argparse_agrees_other_arguments_set_no_owned_flag(arg: str) -> None:
    assert _owned_dests_set([arg]) in (None, set())
