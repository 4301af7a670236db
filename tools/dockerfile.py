"""Read Dockerfiles and .dockerignore files, for checks that run without a container engine.

`parse(text)` splits a Dockerfile into its global ARGs and its stages (base image with global ARGs
substituted, optional name, instructions with line continuations joined). The helpers answer the
questions image checks ask: what a stage copies from the build context, which packages pip
installs against which constraints files, and whether .dockerignore drops a path.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Instruction:
    """One instruction: its upper-case keyword and the raw text after it."""

    keyword: str
    args: str


@dataclass
class Stage:
    """One build stage: what follows a FROM up to the next."""

    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        """The arguments of every `keyword` instruction, in order."""
        return [i.args for i in self.instructions if i.keyword == keyword]

    def merged(self, keyword: str) -> dict[str, str]:
        """ENV, LABEL or ARG instructions merged into one mapping (later ones win)."""
        return {k: v for args in self.all(keyword) for k, v in key_values(args).items()}

    def workdir(self) -> str:
        dirs = self.all("WORKDIR")
        return dirs[-1] if dirs else "/"


@dataclass(frozen=True)
class Dockerfile:
    """Global ARG defaults (before the first FROM) and the stages in order."""

    args: dict[str, str]
    stages: list[Stage]

    @property
    def final(self) -> Stage:
        return self.stages[-1]


def logical_lines(text: str) -> list[str]:
    """Instructions with continuations joined; comment lines (also inside continuations) dropped."""
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1].rstrip() + " "
            continue
        lines.append(current + stripped)
        current = ""
    if current:
        raise ValueError("the Dockerfile ends inside a line continuation")
    return lines


def substitute(text: str, values: dict[str, str]) -> str:
    """Expand `$NAME` and `${NAME}` from `values`; unknown names stay as written."""
    return re.sub(r"\$\{?(\w+)\}?", lambda m: values.get(m[1], m[0]), text)


def parse(text: str) -> Dockerfile:
    """The global ARGs and stages of a Dockerfile; ValueError for a malformed file."""
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical_lines(text):
        keyword, _, rest = line.partition(" ")
        keyword, rest = keyword.upper(), rest.strip()
        if keyword == "FROM":
            image, _, name = substitute(rest, global_args).partition(" AS ")
            stages.append(Stage(image.strip(), name.strip() or None))
        elif not stages:
            if keyword != "ARG":
                raise ValueError(f"{keyword} before the first FROM")
            key, _, default = rest.partition("=")
            global_args[key] = default
        else:
            stages[-1].instructions.append(Instruction(keyword, rest))
    return Dockerfile(global_args, stages)


def key_values(args: str) -> dict[str, str]:
    """`KEY=value KEY2="value 2"` of ENV, LABEL and ARG."""
    return dict(item.partition("=")[::2] for item in shlex.split(args))


def copies(stage: Stage) -> list[tuple[list[str], str]]:
    """(sources, destination) of every COPY from the build context (not --from another stage)."""
    result = []
    for args in stage.all("COPY"):
        tokens = shlex.split(args)
        if any(t.startswith("--from") for t in tokens):
            continue
        *sources, destination = [t for t in tokens if not t.startswith("--")]
        result.append((sources, destination))
    return result


def pip_installs(image: Dockerfile) -> list[list[str]]:
    """The argument lists after `pip ... install` in every RUN of every stage."""
    found = []
    for stage in image.stages:
        for run in stage.all("RUN"):
            for command in run.split("&&"):
                tokens = shlex.split(command)
                if "pip" in tokens and "install" in tokens:
                    found.append(tokens[tokens.index("install") + 1 :])
    return found


def requirement_roots(tokens: list[str]) -> tuple[list[str], list[str]]:
    """(constraint files, package names) of a pip install argument list."""
    constraints: list[str] = []
    packages: list[str] = []
    tokens = list(tokens)
    while tokens:
        token = tokens.pop(0)
        if token in ("-c", "--constraint"):
            constraints.append(tokens.pop(0))
        elif not token.startswith("-"):
            packages.append(token)
    return constraints, packages


def dockerignore_excludes(dockerignore: str, path: str) -> bool:
    """Whether `dockerignore` (the file's text) keeps `path` (context-relative, `/`-separated) out.

    Docker's rules: the last matching pattern wins, `!` re-includes, a pattern matching a parent
    directory matches everything under it, `*` stays within one path segment, `**` spans any.
    """
    patterns = [
        line.strip()
        for line in dockerignore.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        regex = _pattern_regex(pattern.lstrip("!").strip("/"))
        if any(regex.fullmatch(p) for p in prefixes):
            excluded = not negate
    return excluded


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[" and "]" in pattern[i:]:
            end = pattern.index("]", i)
            out, i = out + pattern[i : end + 1], end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)
