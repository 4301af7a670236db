"""Settings declared once on a pydantic-settings model, read from flags, variables and a settings file.

A settings model declares each setting once: its type, its default and, in its docstring, its help.
From that one declaration come the flag ``--some-setting`` (the field's name in kebab case, unless a
:class:`Flag` names it), the variable ``<PREFIX>SOME_SETTING``, the key in a YAML/JSON settings file,
``--help`` and the README's configuration tables. A flag given on the command line wins over the
variable, which wins over the settings file, which wins over the default. Repeatable flags take a
comma-separated variable. A nested model is a group of settings: its flags carry the group's name as
a prefix (``--tracing-enabled``), or none when its ``Flag`` name is empty (a service's ``operator``).
Layers merge key by key within a group and within a map setting, so a settings file's ``epp_flags``
keep the entries a flag or variable does not name.

Both services and the offline command line read settings through this module alone, so a setting
cannot mean one thing to the webhook and another to the reconciler.
"""

from __future__ import annotations

import argparse
import os
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Generic, Literal, NoReturn, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic.alias_generators import to_snake
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, InitSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from shared import yamlio


class Settings(BaseSettings):
    """Base of every settings model: constructing one applies its arguments and nothing else."""

    model_config = SettingsConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Builders are pure functions and tests construct settings directly, so a variable that
        # happens to be set in the process must never change what `OperatorSettings(...)` means.
        # The outside world enters through `resolve` only, which each service's FlagSet and the
        # offline command line call with the layers they read.
        return (init_settings,)


M = TypeVar("M", bound=BaseSettings)


@dataclass(frozen=True)
class Flag:
    """Field metadata, ``Annotated[str, Flag("operator-version")]``: the flag's name where it is not
    the field's name in kebab case; on a group, the prefix of its flags ("" for none)."""

    name: str


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
class Option:
    """One flag as its field declares it: ``--name``, help, default, and where its value goes."""

    name: str
    help: str
    default: Any = field(hash=False)  # a dict default (epp_flags) is not hashable
    path: tuple[str, ...]
    """Field names from the service's model down to the setting; empty for the settings file."""
    convert: Callable[[str], Any] = str
    collect: Callable[[list[Any]], Any] | None = None
    """How the values of a repeatable flag become the setting (tuple, dict); None: not repeatable."""

    @property
    def key(self) -> str:
        """The flag's name as a Python identifier (``default-epp-image`` -> ``default_epp_image``)."""
        return self.name.replace("-", "_")

    @property
    def repeat(self) -> bool:
        return self.collect is not None

    @property
    def shown_default(self) -> str:
        """The default as ``--help`` and the tables show it; empty when there is nothing to show."""
        if self.default is None or self.default in ("", (), {}):
            return ""
        return str(self.default).lower() if isinstance(self.default, bool) else str(self.default)

    def value(self, given: Any) -> Any:
        """The setting's value from what argparse or the variable produced (a list when repeatable)."""
        return given if self.collect is None else self.collect(given)


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _flag_type(annotation: Any) -> tuple[Callable[[str], Any], Callable[[list[Any]], Any] | None]:
    """How a flag of this type converts its text, and how a repeatable one collects its values."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (Union, types.UnionType):  # `X | None`: the flag gives an X or is left out
        (inner,) = (a for a in args if a is not type(None))
        return _flag_type(inner)
    if origin is tuple:
        return _flag_type(args[0])[0], tuple
    if origin is dict:
        return parse_pair, dict
    if origin is Literal:  # the model names the allowed values when one is wrong
        return str, None
    if annotation is bool:
        return parse_bool, None
    if annotation in (str, int, float, Path):
        return annotation, None
    raise TypeError(f"no flag can carry a {annotation!r}")


def options(model: type[BaseModel], path: tuple[str, ...] = (), prefix: str = "") -> tuple[Option, ...]:
    """Every setting of ``model`` as a flag, groups flattened, in declaration order."""
    found: list[Option] = []
    for name, info in model.model_fields.items():
        flag = next((m for m in info.metadata if isinstance(m, Flag)), None)
        flag_name = name.replace("_", "-") if flag is None else flag.name
        if _is_model(info.annotation):
            group_prefix = f"{prefix}{flag_name}-" if flag_name else prefix
            found += options(info.annotation, (*path, name), group_prefix)  # type: ignore[arg-type]
            continue
        if not info.description:
            raise TypeError(f"{model.__name__}.{name} has no docstring to be its help")
        convert, collect = _flag_type(info.annotation)
        help_text = " ".join(info.description.split())
        if get_origin(info.annotation) is Literal:
            help_text += f" One of: {', '.join(get_args(info.annotation))}."
        default = info.get_default(call_default_factory=True)
        found.append(Option(prefix + flag_name, help_text, default, (*path, name), convert, collect))
    return tuple(found)


def _nest(values: Mapping[Option, Any]) -> dict[str, Any]:
    """Flat option values as the nested mapping the model validates (``{"operator": {...}}``)."""
    tree: dict[str, Any] = {}
    for option, value in values.items():
        node = tree
        for part in option.path[:-1]:
            node = node.setdefault(part, {})
        node[option.path[-1]] = value
    return tree


def _snake_keys(model: type[BaseModel], data: Any) -> Any:
    """Accept camelCase keys for model fields; keys of free-form maps (epp_flags) stay untouched."""
    if not isinstance(data, dict):
        return data
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = key if key in model.model_fields else to_snake(str(key))
        info = model.model_fields.get(name)
        if info is not None and _is_model(info.annotation):
            value = _snake_keys(info.annotation, value)  # type: ignore[arg-type]
        out[name] = value
    return out


def read_file(path: Path, model: type[BaseModel]) -> dict[str, Any]:
    """The settings of ``model`` in a YAML or JSON file: one mapping, snake_case or camelCase keys,
    groups nested (``tracing: {enabled: true}``). An unreadable file raises InputError."""
    docs = yamlio.read_documents(path)
    if len(docs) > 1 or (docs and not isinstance(docs[0].body, dict)):
        raise yamlio.InputError(f"{path}: expected one mapping of settings")
    data: dict[str, Any] = _snake_keys(model, docs[0].body if docs else {})
    return data


def resolve(model: type[M], layers: Sequence[dict[str, Any]]) -> M:
    """``model`` from layers of values, the first layer winning; a group merges key by key.

    Raises pydantic's ValidationError for a value the model refuses.
    """
    # pydantic-settings merges its sources deep, the first source winning, and its own file sources
    # are InitSettingsSource subclasses: a layer already read is exactly such a source. Passing them
    # as `_build_sources` bypasses `settings_customise_sources`, which keeps plain construction pure.
    sources = tuple(InitSettingsSource(model, init_kwargs=layer) for layer in layers)
    return model(_build_sources=(sources, {}))


def problems(error: ValidationError, origin: Callable[[tuple[str, ...]], str] = lambda loc: "") -> str:
    """Every error of ``error`` on one line: ``origin: setting.path: message``, joined by "; "."""

    def line(err: ErrorDetails) -> str:
        loc = tuple(str(p) for p in err["loc"])
        where = origin(loc)
        return "".join([f"{where}: " if where else "", f"{'.'.join(loc)}: " if loc else "", err["msg"]])

    return "; ".join(line(err) for err in error.errors(include_url=False))


@dataclass(frozen=True)
class FlagSet(Generic[M]):
    """The flags of one service, generated from its settings model, and the one way it reads them."""

    model: type[M]
    prefix: str
    prog: str
    description: str
    file_group: str
    """The field (a group) whose settings ``--settings-file`` holds, in the offline CLI's format."""

    @cached_property
    def settings_file(self) -> Option:
        """``--settings-file``: the layer under the variables, in the offline CLI's format."""
        return Option(
            "settings-file",
            f"YAML or JSON file of {self.file_group} settings, as the offline CLI's --settings reads it; "
            "flags and variables win over it.",
            None,
            (),
            Path,
        )

    @cached_property
    def flags(self) -> tuple[Option, ...]:
        return (self.settings_file, *options(self.model))

    def env_name(self, flag: str) -> str:
        return self.prefix + flag.upper().replace("-", "_")

    def build_parser(self) -> argparse.ArgumentParser:
        parser = argparse.ArgumentParser(prog=self.prog, description=self.description)
        for f in self.flags:
            default = f" (default: {f.shown_default})" if f.shown_default else ""
            parser.add_argument(
                f"--{f.name}",
                type=f.convert,
                action="append" if f.repeat else "store",
                # argparse %-formats help texts; a setting's docstring is plain text.
                help=f"{f.help}{default} [env {self.env_name(f.name)}]".replace("%", "%%"),
            )
        return parser

    def load(self, argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> M:
        """Flags over variables over the settings file over defaults.

        A value that does not convert or validate exits with argparse's usage message, naming the
        flag, variable or file it came from.
        """
        env = os.environ if environ is None else environ
        parser = self.build_parser()
        args = vars(parser.parse_args(argv))
        # 1. Flags, then variables: a variable is read only for a flag not given.
        given = {f: f.value(args[f.key]) for f in self.flags if args[f.key] is not None}
        from_env = {
            f: self._from_env(f, env[self.env_name(f.name)], parser)
            for f in self.flags
            if f not in given and self.env_name(f.name) in env
        }
        origins = {f: f"--{f.name}" for f in given} | {f: self.env_name(f.name) for f in from_env}
        # 2. The settings file, under both.
        file_path = given.pop(self.settings_file, None) or from_env.pop(self.settings_file, None)
        layers = [_nest(given), _nest(from_env)]
        if file_path is not None:
            try:
                layers.append({self.file_group: read_file(file_path, self._group_model())})
            except yamlio.InputError as e:
                parser.error(f"{origins[self.settings_file]}: {e}")
        # 3. The model validates what the layers give, merged.
        try:
            return resolve(self.model, layers)
        except ValidationError as e:
            parser.error(problems(e, lambda loc: self._origin(loc, origins, file_path)))

    def _group_model(self) -> type[BaseModel]:
        annotation = self.model.model_fields[self.file_group].annotation
        assert _is_model(annotation), f"{self.file_group} is not a group of settings"
        return annotation  # type: ignore[return-value]

    def _origin(self, loc: tuple[str, ...], origins: Mapping[Option, str], file_path: Path | None) -> str:
        """Where the value at ``loc`` came from: its flag or variable, else the settings file."""
        option = next((f for f in origins if f.path and loc[: len(f.path)] == f.path), None)
        if option is not None:
            return origins[option]
        return str(file_path) if file_path is not None and loc[:1] == (self.file_group,) else ""

    def _from_env(self, option: Option, raw: str, parser: argparse.ArgumentParser) -> Any:
        try:
            if option.repeat:
                return option.value([option.convert(v.strip()) for v in raw.split(",") if v.strip()])
            return option.convert(raw)
        except (ValueError, argparse.ArgumentTypeError) as e:
            parser.error(f"{self.env_name(option.name)}={raw!r}: {e}")

    def fail(self, message: str) -> NoReturn:
        """Exit with the usage message and ``message``, as argparse does for a bad flag."""
        self.build_parser().error(message)

    def describe(self) -> str:
        """A Markdown table of every flag, its environment variable and default."""
        rows = []
        for f in self.flags:
            default = f"`{f.shown_default}`" if f.shown_default else ""
            rows.append(f"| `--{f.name}` | `{self.env_name(f.name)}` | {default} | {f.help} |")
        return "\n".join(["| flag | environment | default | meaning |", "| --- | --- | --- | --- |", *rows])
