"""Settings from flags, variables and a settings file: precedence, repetition, groups, and errors that
name where the bad value came from."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import pytest
from pydantic import BaseModel, ConfigDict, Field

from shared.flags import Flag, FlagSet, Settings, options


class Group(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    enabled: bool = False
    """Turn it on."""
    otel_endpoint: Annotated[str, Flag("url")] = ""
    """Where to send."""


class Shared(Settings):
    image: str = "img:1"
    """Image to run."""
    extra: Annotated[dict[str, str], Flag("extra-flag")] = Field(default_factory=dict)
    """Extra KEY=VALUE pairs."""
    group: Group = Group()
    """A group."""


class Demo(Settings):
    workers: int = 2
    """Workers."""
    leader_elect: bool = False
    """Hold a lease."""
    namespace: tuple[str, ...] = ()
    """Namespaces."""
    kubeconfig: str | None = None
    """Kubeconfig file."""
    shared: Annotated[Shared, Flag("")] = Shared()
    """Flags without a prefix."""


FLAGS = FlagSet(Demo, "DEMO_", prog="demo", description="test", file_group="shared")


def test_flag_names_come_from_field_names_groups_and_flag_metadata() -> None:
    assert [f.name for f in FLAGS.flags] == [
        "settings-file",
        "workers",
        "leader-elect",
        "namespace",
        "kubeconfig",
        "image",
        "extra-flag",
        "group-enabled",
        "group-url",
    ]


@pytest.mark.parametrize(
    ("argv", "env", "file", "expected"),
    [
        ([], {}, None, {"workers": 2, "leader_elect": False, "namespace": (), "kubeconfig": None}),
        ([], {"DEMO_WORKERS": "4"}, None, {"workers": 4}),
        (["--workers", "8"], {"DEMO_WORKERS": "4"}, None, {"workers": 8}),
        ([], {"DEMO_LEADER_ELECT": "yes"}, None, {"leader_elect": True}),
        ([], {"DEMO_NAMESPACE": "a, b,,c"}, None, {"namespace": ("a", "b", "c")}),
        (["--namespace", "x", "--namespace", "y"], {"DEMO_NAMESPACE": "a"}, None, {"namespace": ("x", "y")}),
        ([], {"DEMO_EXTRA_FLAG": "v=1,w=2"}, None, {"shared.extra": {"v": "1", "w": "2"}}),
        (
            ["--group-url", "u"],
            {"DEMO_GROUP_ENABLED": "true"},
            None,
            {"shared.group": Group(enabled=True, otel_endpoint="u")},
        ),
        (
            [],
            {},
            "image: img:2\ngroup: {enabled: true}\n",
            {"shared.image": "img:2", "shared.group.enabled": True},
        ),
        ([], {}, '{"extra": {"someKey": "1"}}', {"shared.extra": {"someKey": "1"}}),
        ([], {}, "group:\n  otel_endpoint: u\n", {"shared.group.otel_endpoint": "u"}),
        ([], {"DEMO_IMAGE": "img:3"}, "image: img:2\n", {"shared.image": "img:3"}),
        (
            ["--group-url", "v"],
            {},
            "group: {enabled: true, otel_endpoint: u}\n",
            {"shared.group": Group(enabled=True, otel_endpoint="v")},
        ),
        ([], {}, "group: {otelEndpoint: u}\n", {"shared.group.otel_endpoint": "u"}),
    ],
    ids=[
        "defaults when nothing is set",
        "variable over default",
        "flag over variable",
        "boolean variable",
        "repeatable variable is comma-separated",
        "repeated flag over variable",
        "pairs",
        "a group's flags carry its prefix and merge",
        "the settings file fills the file group",
        "keys of free-form maps stay as written",
        "nested groups in the file",
        "variable over the settings file",
        "a flag over the file merges within a group",
        "camelCase keys of the settings file",
    ],
)
def test_flag_then_variable_then_settings_file_then_default(
    argv: list[str], env: dict[str, str], file: str | None, expected: dict[str, Any], tmp_path: Path
) -> None:
    if file is not None:
        (tmp_path / "settings.yaml").write_text(file)
        env = {**env, "DEMO_SETTINGS_FILE": str(tmp_path / "settings.yaml")}
    value = FLAGS.load(argv, env)
    found = {}
    for path in expected:
        node: Any = value
        for part in path.split("."):
            node = getattr(node, part)
        found[path] = node
    assert found == expected


def test_construction_takes_only_its_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WORKERS", "DEMO_WORKERS", "IMAGE", "DEMO_IMAGE"):
        monkeypatch.setenv(name, "9")
    assert (Demo().workers, Demo().shared.image, Demo(workers=3).workers) == (2, "img:1", 3)


@pytest.mark.parametrize(
    ("argv", "env", "file", "message"),
    [
        ([], {"DEMO_LEADER_ELECT": "maybe"}, None, "DEMO_LEADER_ELECT='maybe': expected true or false"),
        (["--workers", "x"], {}, None, "argument --workers: invalid int value: 'x'"),
        (["--extra-flag", "novalue"], {}, None, "expected KEY=VALUE"),
        ([], {}, "image: [1]\n", "{file}: shared.image: Input should be a valid string"),
        ([], {}, "imag: x\n", "{file}: shared.imag: Extra inputs are not permitted"),
        ([], {}, "- image\n", "DEMO_SETTINGS_FILE: {file}: expected one mapping of settings"),
        (
            ["--settings-file", "{tmp}/missing.yaml"],
            {},
            None,
            "--settings-file: {tmp}/missing.yaml: no such file",
        ),
        (
            [],
            {"DEMO_GROUP_ENABLED": "1"},
            "group: {otel_endpoint: [u]}\n",
            "{file}: shared.group.otel_endpoint:",
        ),
    ],
    ids=[
        "bad variable",
        "bad flag",
        "bad pair",
        "bad value in the settings file",
        "unknown key in the settings file",
        "a settings file that is no mapping",
        "a missing settings file",
        "a bad value in a group the variables also set",
    ],
)
def test_bad_input_exits_with_a_usage_message_naming_its_origin(
    argv: list[str],
    env: dict[str, str],
    file: str | None,
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "settings.yaml"
    if file is not None:
        path.write_text(file)
        env = {**env, "DEMO_SETTINGS_FILE": str(path)}
    with pytest.raises(SystemExit) as exit_info:
        FLAGS.load([a.format(tmp=tmp_path) for a in argv], env)
    assert exit_info.value.code == 2
    assert message.format(file=path, tmp=tmp_path) in capsys.readouterr().err


def test_a_setting_without_a_docstring_has_no_help_and_is_refused() -> None:
    class Undocumented(Settings):
        workers: int = 2

    with pytest.raises(TypeError, match=r"Undocumented\.workers has no docstring"):
        options(Undocumented)


def test_the_table_names_every_flag_variable_and_default() -> None:
    table = FLAGS.describe()
    assert "| `--workers` | `DEMO_WORKERS` | `2` | Workers. |" in table
    assert "| `--group-url` | `DEMO_GROUP_URL` |  | Where to send. |" in table
    assert table.count("\n") == len(FLAGS.flags) + 1
