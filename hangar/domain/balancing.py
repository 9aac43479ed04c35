"""Load-balancing strategies as pure, deterministic-given-their-inputs objects.

A strategy turns the members that may serve a call into an *order*: the first is the member the
call goes to, the rest are the failover sequence. Strategies keep only their own cursor or
weights; in-flight counts and randomness are passed in, so a test can drive them exactly.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import NamedTuple, Protocol


class Candidate(NamedTuple):
    member_id: str
    weight: int = 1
    priority: int = 1
    inflight: int = 0


class Strategy(Protocol):
    name: str

    def order(self, candidates: Sequence[Candidate]) -> list[str]:
        """The members in the order they should be tried; the first one serves the call."""
        ...


def _rotate(items: Sequence[Candidate], start: int) -> list[Candidate]:
    n = len(items)
    return [items[(start + i) % n] for i in range(n)]


class RoundRobin:
    name = "round_robin"

    def __init__(self) -> None:
        self._next = 0

    def _rotated(self, candidates: Sequence[Candidate]) -> list[Candidate]:
        """The candidates starting one further along than last time."""
        if not candidates:
            return []
        start = self._next % len(candidates)
        self._next += 1
        return _rotate(candidates, start)

    def order(self, candidates: Sequence[Candidate]) -> list[str]:
        return [c.member_id for c in self._rotated(candidates)]


class SmoothWeightedRoundRobin:
    """Each pick raises every member's current weight by its weight, takes the largest and lowers
    it by the total: weights 3:1 give ``a a b a`` rather than ``a a a b``, spreading bursts."""

    name = "weighted_round_robin"

    def __init__(self) -> None:
        self._current: dict[str, int] = {}
        self._ids: frozenset[str] = frozenset()

    def order(self, candidates: Sequence[Candidate]) -> list[str]:
        if not candidates:
            return []
        ids = frozenset(c.member_id for c in candidates)
        if ids != self._ids:
            # The rotation changed: start over, or credit built up by the previous set would
            # send a burst to one member.
            self._ids, self._current = ids, {}
        total = 0
        for c in candidates:
            self._current[c.member_id] = self._current.get(c.member_id, 0) + c.weight
            total += c.weight
        ranked = sorted(candidates, key=lambda c: -self._current[c.member_id])
        self._current[ranked[0].member_id] -= total
        return [c.member_id for c in ranked]


class LeastConnections(RoundRobin):
    """Fewest calls in flight first; ties rotate (round robin) so idle members share the load."""

    name = "least_connections"

    def order(self, candidates: Sequence[Candidate]) -> list[str]:
        return [c.member_id for c in sorted(self._rotated(candidates), key=lambda c: c.inflight)]


class WeightedRandom:
    """A member is picked with probability weight / total; the failover order is a weighted
    shuffle of the rest (Efraimidis-Spirakis keys ``u ** (1 / w)``)."""

    name = "random"

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()

    def order(self, candidates: Sequence[Candidate]) -> list[str]:
        keyed = [(self._rng.random() ** (1.0 / c.weight), c.member_id) for c in candidates]
        keyed.sort(reverse=True)
        return [member_id for _, member_id in keyed]


class PriorityOrder:
    """Lowest priority number first, higher numbers only as failover; members sharing the best
    priority take turns (round robin) so equal primaries share the load."""

    name = "priority"

    def __init__(self) -> None:
        self._next = 0

    def order(self, candidates: Sequence[Candidate]) -> list[str]:
        if not candidates:
            return []
        start = self._next
        self._next += 1
        tiers: dict[int, list[Candidate]] = {}
        for c in candidates:
            tiers.setdefault(c.priority, []).append(c)
        out: list[str] = []
        for prio in sorted(tiers):
            tier = tiers[prio]
            out += [c.member_id for c in _rotate(tier, start % len(tier))]
        return out


def make_strategy(name: str, rng: random.Random | None = None) -> Strategy:
    if name == "round_robin":
        return RoundRobin()
    if name == "weighted_round_robin":
        return SmoothWeightedRoundRobin()
    if name == "least_connections":
        return LeastConnections()
    if name == "random":
        return WeightedRandom(rng)
    if name == "priority":
        return PriorityOrder()
    raise ValueError(f"unknown strategy {name!r}")
