"""Fault injection for reliability tests: errors, latency, cut and expired watches.

Rules match requests by verb, resource (`deployments` or `deployments/status`), namespace and
name, and fire either for the next N matching requests (`times`) or with a probability
(`rate`, drawn from a seeded generator so runs repeat). A rule injects an error status (500, 429
with Retry-After, 409, 503, ...) and/or latency. Watches can be cut now, cut after N events, or
answered with 410 Gone. The same operations are reachable over HTTP under `/_localcluster/` for
tests that run the server in another process.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from localcluster import errors

Manifest = dict[str, Any]
VERBS = frozenset({"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"})


@dataclass(slots=True)
class FaultRule:
    """One injected fault. Empty matchers match everything."""

    verbs: frozenset[str] = frozenset()
    resource: str = ""
    namespace: str = ""
    name: str = ""
    code: int = 0  # 0: no error, only latency / watch effects
    retry_after: int = 1
    latency: float = 0.0
    times: int | None = None  # fire for the next N matching requests, then retire
    rate: float = 1.0  # probability of firing when `times` is None
    close_watch_after: int | None = None  # watches: end the stream after N events
    expire_watch: bool = False  # watches: answer 410 Gone
    id: int = 0
    fired: int = 0

    def matches(self, verb: str, resource: str, namespace: str, name: str) -> bool:
        return (
            (not self.verbs or verb in self.verbs)
            and (not self.resource or self.resource == resource)
            and (not self.namespace or self.namespace == namespace)
            and (not self.name or self.name == name)
        )

    def to_json(self) -> Manifest:
        data = asdict(self)
        data["verbs"] = sorted(self.verbs)
        return data

    @classmethod
    def from_json(cls, data: Manifest) -> FaultRule:
        known = {
            "verbs",
            "resource",
            "namespace",
            "name",
            "code",
            "retry_after",
            "latency",
            "times",
            "rate",
            "close_watch_after",
            "expire_watch",
        }
        unknown = set(data) - known
        if unknown:
            raise errors.bad_request(f"unknown fault rule fields: {sorted(unknown)}; known: {sorted(known)}")
        verbs = frozenset(data.get("verbs") or ())
        if verbs - VERBS:
            raise errors.bad_request(f"unknown verbs {sorted(verbs - VERBS)}; known: {sorted(VERBS)}")
        try:
            return cls(**{**data, "verbs": verbs})
        except TypeError as exc:
            raise errors.bad_request(f"invalid fault rule: {exc}") from exc


@dataclass(slots=True)
class WatchFaults:
    close_after: int | None = None
    expire: bool = False


@dataclass
class Faults:
    """The fault table of one cluster; `seed` makes `rate` draws repeatable."""

    seed: int = 0
    rules: list[FaultRule] = field(default_factory=list)
    close_watches_hook: Callable[[], int] = lambda: 0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._ids = itertools.count(1)

    def add(self, rule: FaultRule | None = None, **kwargs: Any) -> FaultRule:
        rule = rule or FaultRule(**{**kwargs, "verbs": frozenset(kwargs.get("verbs") or ())})
        rule.id = next(self._ids)
        self.rules.append(rule)
        return rule

    def fail_next(
        self, verb: str, resource: str, code: int = 500, times: int = 1, **kwargs: Any
    ) -> FaultRule:
        """Shorthand: the next `times` `verb` requests on `resource` fail with `code`."""
        return self.add(verbs=frozenset({verb}), resource=resource, code=code, times=times, **kwargs)

    def remove(self, rule_id: int) -> None:
        self.rules = [r for r in self.rules if r.id != rule_id]

    def clear(self) -> None:
        self.rules.clear()

    def close_watches(self) -> int:
        """End every open watch stream now; returns how many were cut."""
        return self.close_watches_hook()

    def expire_next_watches(self, count: int = 1, resource: str = "") -> FaultRule:
        return self.add(verbs=frozenset({"watch"}), resource=resource, times=count, expire_watch=True)

    def _fire(self, verb: str, resource: str, namespace: str, name: str) -> list[FaultRule]:
        fired = []
        for rule in list(self.rules):
            if not rule.matches(verb, resource, namespace, name):
                continue
            if rule.times is None and self._rng.random() >= rule.rate:
                continue
            rule.fired += 1
            if rule.times is not None and rule.fired >= rule.times:
                self.rules.remove(rule)
            fired.append(rule)
        return fired

    async def before(self, verb: str, resource: str, namespace: str, name: str) -> WatchFaults:
        """Apply matching rules to a request: sleep, raise an injected error, or mark watch effects."""
        effects = WatchFaults()
        for rule in self._fire(verb, resource, namespace, name):
            if rule.latency:
                await asyncio.sleep(rule.latency)
            if rule.code:
                raise injected(rule, resource, name)
            if rule.close_watch_after is not None:
                effects.close_after = rule.close_watch_after
            effects.expire = effects.expire or rule.expire_watch
        return effects


def injected(rule: FaultRule, resource: str, name: str) -> errors.StatusError:
    if rule.code == 429:
        return errors.too_many_requests(rule.retry_after)
    if rule.code == 409:
        return errors.conflict("", resource.split("/")[0], name or "unknown")
    if rule.code == 500:
        return errors.internal("injected fault")
    if rule.code == 503:
        return errors.service_unavailable()
    if rule.code == 504:
        return errors.StatusError(
            504, "Timeout", "the server was unable to return a response in the time allotted"
        )
    return errors.StatusError(
        rule.code, "InternalError" if rule.code >= 500 else "BadRequest", "injected fault"
    )
