"""Quoting what pods say in a status: one line, short, and without credentials. Pure.

The status repeats a kubelet's, scheduler's or container's own words (an image pull error, a
termination message), and a status is readable by everyone who may read the ModelService, so
those words are scrubbed first: passwords in URLs, bearer and basic tokens, the values of
``--*-key``/``--*-token``/``--*-secret``/``--password`` arguments, ``KEY=value`` and JSON
``"key": "value"`` pairs whose key names a secret, and token formats that announce themselves
(Hugging Face, OpenAI-style, GitHub, GitLab, AWS access keys). The reconciler itself never reads
Secret data; this is about what a container happened to print.
"""

from __future__ import annotations

import re

MASK = "***"
MAX_QUOTE = 300
"""Characters of one quoted text; the whole message stays a line or two in ``kubectl describe``."""

_SECRET_WORD = (
    r"(?:password|passwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|credentials?)"
)
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # scheme://user:password@host
    (re.compile(r"(?<=://)[^/\s:@]+:[^/\s@]+@"), MASK + "@"),
    # Authorization: Bearer <token>, Basic <base64>
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 " + MASK),
    # --api-key X, --hf-token=X, --password X
    (re.compile(rf"(?i)(--[\w-]*{_SECRET_WORD}[\w-]*)(=|\s+)(\"[^\"]*\"|'[^']*'|\S+)"), r"\1\2" + MASK),
    # "password": "x" (JSON, docker config "auth")
    (re.compile(rf"(?i)(\"[\w.-]*(?:{_SECRET_WORD}|auth)[\w.-]*\"\s*:\s*)\"[^\"]*\""), r'\1"' + MASK + '"'),
    # HF_TOKEN=x, password=x
    (re.compile(rf"(?i)\b([\w.-]*{_SECRET_WORD}[\w.-]*=)(\"[^\"]*\"|'[^']*'|[^\s,;&]+)"), r"\1" + MASK),
    # self-announcing token formats
    (
        re.compile(
            r"\b(?:hf_[A-Za-z0-9]{20,}|sk-[A-Za-z0-9_-]{16,}|gh[pousr]_[A-Za-z0-9]{20,}|glpat-[\w-]{16,})"
        ),
        MASK,
    ),
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), MASK),
)


def redact(text: str) -> str:
    """``text`` with anything that looks like a credential replaced by ``***``."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def one_line(text: str) -> str:
    """Whitespace runs (newlines included) as single spaces, trimmed."""
    return " ".join(text.split())


def quote(text: str | None, limit: int = MAX_QUOTE) -> str:
    """``text`` as a status quotes it: scrubbed, on one line, cut to ``limit`` characters."""
    line = redact(one_line(text or ""))
    return line if len(line) <= limit else line[: limit - 3].rstrip() + "..."
