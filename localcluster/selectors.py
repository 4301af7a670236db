"""Label and field selectors: parsing the query-string syntax and matching objects.

Label selectors follow `k8s.io/apimachinery/pkg/labels`: equality (`=`, `==`, `!=`), set-based
(`in`, `notin`) and existence (`k`, `!k`) requirements joined by commas. `!=` and `notin` also
match objects that lack the key, as on the real server. Field selectors support `metadata.name`
and `metadata.namespace`, which is what the real server offers for every kind.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from localcluster import errors

Manifest = dict[str, Any]
Labels = Mapping[str, str]

_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)
_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_TOKEN = re.compile(r"\s*(\(|\)|,|!=|==|=|!|[^\s(),!=]+)")


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!"
    values: frozenset[str]

    def matches(self, labels: Labels) -> bool:
        present = self.key in labels
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op in ("=", "in"):
            return present and labels[self.key] in self.values
        # "!=" and "notin" match when the key is absent, as the real server does.
        return not present or labels[self.key] not in self.values


Selector = tuple[Requirement, ...]


def _fail(text: str, why: str) -> errors.StatusError:
    return errors.bad_request(f"unable to parse requirement: {why} (selector {text!r})")


def _check(text: str, key: str, values: frozenset[str]) -> None:
    if not _KEY.match(key):
        raise _fail(text, f"invalid label key {key!r}")
    for value in values:
        if len(value) > 63 or not _VALUE.match(value):
            raise _fail(text, f"invalid label value {value!r}")


def _parse_set(text: str, tokens: list[str], pos: int) -> tuple[frozenset[str], int]:
    if pos >= len(tokens) or tokens[pos] != "(":
        raise _fail(text, "expected '(' after set operator")
    values: set[str] = set()
    pos += 1
    while pos < len(tokens) and tokens[pos] != ")":
        if tokens[pos] != ",":
            values.add(tokens[pos])
        pos += 1
    if pos >= len(tokens):
        raise _fail(text, "missing ')'")
    return frozenset(values), pos + 1


def parse_labels(text: str | None) -> Selector:
    """Parse a `labelSelector` query value; raises a 400 StatusError on bad syntax."""
    if not text or not text.strip():
        return ()
    tokens = _TOKEN.findall(text)
    out: list[Requirement] = []
    pos = 0
    while pos < len(tokens):
        tok = tokens[pos]
        if tok == ",":
            pos += 1
            continue
        if tok == "!":
            if pos + 1 >= len(tokens):
                raise _fail(text, "missing key after '!'")
            _check(text, tokens[pos + 1], frozenset())
            out.append(Requirement(tokens[pos + 1], "!", frozenset()))
            pos += 2
            continue
        key, nxt = tok, tokens[pos + 1] if pos + 1 < len(tokens) else ","
        if nxt in ("=", "==", "!="):
            if pos + 2 >= len(tokens) or tokens[pos + 2] == ",":
                value, pos = "", pos + 2
            else:
                value, pos = tokens[pos + 2], pos + 3
            values = frozenset({value})
            out.append(Requirement(key, "!=" if nxt == "!=" else "=", values))
        elif nxt in ("in", "notin"):
            values, pos = _parse_set(text, tokens, pos + 2)
            out.append(Requirement(key, nxt, values))
        elif nxt == ",":
            values, pos = frozenset(), pos + 1
            out.append(Requirement(key, "exists", values))
        else:
            raise _fail(text, f"unexpected {nxt!r} after key {key!r}")
        _check(text, key, values)
    return tuple(out)


def matches(selector: Selector, labels: Labels | None) -> bool:
    labels = labels or {}
    return all(req.matches(labels) for req in selector)


_EXPRESSION_OPS = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}


def from_label_selector(selector: Manifest | None) -> Selector:
    """Convert a `metav1.LabelSelector` (matchLabels + matchExpressions); None selects everything."""
    if not selector:
        return ()
    out = [Requirement(k, "=", frozenset({v})) for k, v in (selector.get("matchLabels") or {}).items()]
    for expr in selector.get("matchExpressions") or ():
        op = _EXPRESSION_OPS.get(expr.get("operator", ""))
        if op is None:
            raise errors.bad_request(f"{expr.get('operator')!r} is not a valid label selector operator")
        out.append(Requirement(expr["key"], op, frozenset(expr.get("values") or ())))
    return tuple(out)


FIELDS: dict[str, Callable[[Manifest], str]] = {
    "metadata.name": lambda obj: obj["metadata"].get("name", ""),
    "metadata.namespace": lambda obj: obj["metadata"].get("namespace", ""),
}


@dataclass(frozen=True, slots=True)
class FieldRequirement:
    field: str
    negate: bool
    value: str

    def matches(self, obj: Manifest) -> bool:
        return (FIELDS[self.field](obj) == self.value) != self.negate


FieldSelector = tuple[FieldRequirement, ...]


def parse_fields(text: str | None) -> FieldSelector:
    """Parse a `fieldSelector` query value (only `metadata.name` / `metadata.namespace`)."""
    if not text or not text.strip():
        return ()
    out: list[FieldRequirement] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        for op in ("!=", "==", "="):
            if op in part:
                name, _, value = part.partition(op)
                break
        else:
            raise errors.bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        name = name.strip()
        if name not in FIELDS:
            raise errors.bad_request(
                f'"{name}" is not a known field selector: only "metadata.name", "metadata.namespace"'
            )
        out.append(FieldRequirement(name, op == "!=", value.strip()))
    return tuple(out)


def fields_match(selector: FieldSelector, obj: Manifest) -> bool:
    return all(req.matches(obj) for req in selector)


def name_from_fields(selector: FieldSelector) -> str | None:
    """A `metadata.name=x` equality, which lets a list skip scanning the whole resource."""
    for req in selector:
        if req.field == "metadata.name" and not req.negate:
            return req.value
    return None
