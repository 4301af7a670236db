"""Flags with environment twins: precedence, repetition and errors that name the variable."""

from __future__ import annotations

from typing import Any

import pytest

from shared.flags import Flag, FlagSet, parse_bool, parse_pair

FLAGS = FlagSet(
    "DEMO_",
    (
        Flag("workers", "workers", 2, int),
        Flag("leader-elect", "lease", False, parse_bool),
        Flag("namespace", "namespaces", (), str, repeat=True),
        Flag("epp-flag", "extra", (), parse_pair, repeat=True),
        Flag("kubeconfig", "file"),
    ),
    prog="demo",
    description="test",
)


@pytest.mark.parametrize(
    ("argv", "env", "expected"),
    [
        ([], {}, {"workers": 2, "leader_elect": False, "namespace": (), "kubeconfig": None}),
        ([], {"DEMO_WORKERS": "4"}, {"workers": 4}),
        (["--workers", "8"], {"DEMO_WORKERS": "4"}, {"workers": 8}),
        ([], {"DEMO_LEADER_ELECT": "yes"}, {"leader_elect": True}),
        ([], {"DEMO_NAMESPACE": "a, b,,c"}, {"namespace": ["a", "b", "c"]}),
        (["--namespace", "x", "--namespace", "y"], {"DEMO_NAMESPACE": "a"}, {"namespace": ["x", "y"]}),
        ([], {"DEMO_EPP_FLAG": "v=1,w=2"}, {"epp_flag": [("v", "1"), ("w", "2")]}),
    ],
    ids=[
        "defaults-when-nothing-is-set",
        "variable-over-default",
        "flag-over-variable",
        "boolean-variable",
        "repeatable-variable-is-comma-separated",
        "repeated-flag-over-variable",
        "pairs",
    ],
)
def test_flags_read_flag_then_variable_then_default(
    argv: list[str], env: dict[str, str], expected: dict[str, Any]
) -> None:
    values = FLAGS.parse(argv, env)
    assert {k: values[k] for k in expected} == expected


def test_a_bad_variable_exits_with_a_message_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        FLAGS.parse([], {"DEMO_LEADER_ELECT": "maybe"})
    assert exit_info.value.code == 2
    assert "DEMO_LEADER_ELECT='maybe': expected true or false" in capsys.readouterr().err


def test_the_table_names_every_flag_and_variable() -> None:
    table = FLAGS.describe()
    assert "| `--workers` | `DEMO_WORKERS` | `2` |" in table
    assert table.count("\n") == len(FLAGS.flags) + 1
