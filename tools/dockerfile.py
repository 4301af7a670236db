"""Read Dockerfiles and .dockerignore files, for checks that run without a container engine.

`parse(text)` splits a Dockerfile into its global ARGs and its stages (base image with global ARGs
substituted, optional name, instructions with line continuations joined). The helpers answer the
questions image checks ask: what a stage copies from the build context or another stage, what
each `pip install` installs into which interpreter against which constraints files, where a local
project requirement such as `.[webhook]` points, and whether .dockerignore drops a path.
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
class PipInstall:
    """One `pip ... install` command line of a RUN, split into what image checks ask about."""

    workdir: str
    """The working directory of the RUN's stage, which relative requirement paths start from."""
    target: str | None
    """The interpreter given with `--python` (pip installs into its environment), if any."""
    constraints: list[str]
    requirements: list[str]
    options: list[str]
    """Every other flag, as written."""


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


def copies(stage: Stage, from_stage: str | None = None) -> list[tuple[list[str], str]]:
    """(sources, destination) of every COPY from the build context, or with `from_stage` of every
    `COPY --from=<from_stage>`."""
    result = []
    for args in stage.all("COPY"):
        tokens = shlex.split(args)
        origin = next((t.partition("=")[2] for t in tokens if t.startswith("--from=")), None)
        if origin != from_stage:
            continue
        *sources, destination = [t for t in tokens if not t.startswith("--")]
        result.append((sources, destination))
    return result


def pip_installs(image: Dockerfile) -> list[PipInstall]:
    """Every `pip ... install` in every RUN of every stage, in order.

    Only `-c`/`--constraint` and `--python` are known to take a value; the value of any other
    option written as a separate word would be read as a requirement, which checks then reject.
    """
    found = []
    for stage in image.stages:
        for run in stage.all("RUN"):
            for command in run.split("&&"):
                tokens = shlex.split(command)
                if "pip" in tokens and "install" in tokens:
                    found.append(_pip_install(stage.workdir(), tokens[tokens.index("pip") + 1 :]))
    return found


def _pip_install(workdir: str, tokens: list[str]) -> PipInstall:
    """A PipInstall of the words after `pip` (`install` itself included)."""
    target: str | None = None
    constraints: list[str] = []
    requirements: list[str] = []
    options: list[str] = []
    pending = list(tokens)
    while pending:
        token = pending.pop(0)
        if token in ("-c", "--constraint"):
            constraints.append(pending.pop(0))
        elif token == "--python":
            target = pending.pop(0)
        elif token.startswith("-"):
            options.append(token)
        elif token != "install":
            requirements.append(token)
    return PipInstall(workdir, target, constraints, requirements, options)


def local_project(requirement: str) -> tuple[str, set[str]]:
    """(directory, extras) of a local project requirement: `.[webhook]` is (".", {"webhook"}).

    ValueError for a requirement that is not a path (one that pip would look up in an index).
    """
    match = re.fullmatch(r"([./][^\[\]]*)(?:\[([^\[\]]*)\])?", requirement)
    if match is None:
        raise ValueError(f"{requirement!r} is not a local project path")
    extras = {extra.strip() for extra in (match[2] or "").split(",") if extra.strip()}
    return match[1], extras


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
