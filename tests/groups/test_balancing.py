"""The strategies as pure objects: exact sequences and distributions, no server needed."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from hangar.domain.balancing import (
    Candidate,
    LeastConnections,
    PriorityOrder,
    RoundRobin,
    SmoothWeightedRoundRobin,
    WeightedRandom,
    make_strategy,
)


def firsts(strategy: object, candidates: list[Candidate], n: int) -> list[str]:
    return [strategy.order(candidates)[0] for _ in range(n)]  # type: ignore[attr-defined]


def test_round_robin_cycles_and_fails_over_in_turn() -> None:
    rr = RoundRobin()
    c = [Candidate("a"), Candidate("b"), Candidate("c")]
    assert rr.order(c) == ["a", "b", "c"]
    assert rr.order(c) == ["b", "c", "a"]
    assert rr.order(c) == ["c", "a", "b"]
    assert rr.order([]) == []


def test_smooth_weighted_round_robin_interleaves_and_keeps_ratio() -> None:
    wrr = SmoothWeightedRoundRobin()
    c = [Candidate("a", weight=3), Candidate("b", weight=1)]
    assert firsts(wrr, c, 4) == ["a", "a", "b", "a"]  # smooth: b is not starved for three picks
    counts = Counter(firsts(wrr, c, 400))
    assert counts == {"a": 300, "b": 100}
    order = wrr.order(c)
    assert sorted(order) == ["a", "b"]  # every member is in the failover order


def test_smooth_weighted_round_robin_forgets_members_leaving_rotation() -> None:
    wrr = SmoothWeightedRoundRobin()
    three = [Candidate("a", weight=5), Candidate("b", weight=1), Candidate("c", weight=1)]
    firsts(wrr, three, 3)
    two = [Candidate("b", weight=1), Candidate("c", weight=1)]
    counts = Counter(firsts(wrr, two, 11))
    assert abs(counts["b"] - counts["c"]) == 1


def test_least_connections_prefers_idle_members_and_rotates_ties() -> None:
    lc = LeastConnections()
    busy = [Candidate("a", inflight=3), Candidate("b", inflight=0), Candidate("c", inflight=1)]
    assert lc.order(busy) == ["b", "c", "a"]
    idle = [Candidate("a"), Candidate("b"), Candidate("c")]
    assert Counter(firsts(lc, idle, 30)) == {"a": 10, "b": 10, "c": 10}


def test_weighted_random_follows_weights() -> None:
    wr = WeightedRandom(random.Random(7))
    c = [Candidate("a", weight=3), Candidate("b", weight=1)]
    counts = Counter(firsts(wr, c, 4000))
    assert counts["a"] / counts["b"] == pytest.approx(3.0, rel=0.12)
    assert sorted(wr.order(c)) == ["a", "b"]


def test_priority_sends_to_the_best_and_keeps_others_as_failover() -> None:
    po = PriorityOrder()
    c = [Candidate("backup", priority=5), Candidate("primary", priority=1), Candidate("spare", priority=9)]
    for _ in range(5):
        assert po.order(c) == ["primary", "backup", "spare"]
    tied = [Candidate("p1", priority=1), Candidate("p2", priority=1), Candidate("b", priority=2)]
    seen = [po.order(tied) for _ in range(4)]
    assert {o[0] for o in seen} == {"p1", "p2"} and all(o[2] == "b" for o in seen)


def test_unknown_strategy_is_refused() -> None:
    for name in ("round_robin", "weighted_round_robin", "least_connections", "random", "priority"):
        assert make_strategy(name).name == name
    with pytest.raises(ValueError):
        make_strategy("bogus")
