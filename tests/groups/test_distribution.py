"""How each strategy spreads real calls over real fixture providers through a running Hangar."""

from __future__ import annotations

import concurrent.futures
from collections import Counter

import httpx

from tests.groups.conftest import group_invoke, new_group, new_provider


def served_by(api: httpx.Client, gid: str, calls: int, workers: int = 8) -> Counter[str]:
    def one(_: int) -> str:
        r = group_invoke(api, gid, "add", a=1, b=2)
        assert r.status_code == 200, r.text
        return str(r.json()["provider_id"])

    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        return Counter(pool.map(one, range(calls)))


def test_weighted_round_robin_gives_three_to_one(api: httpx.Client) -> None:
    a, _ = new_provider(api)
    b, _ = new_provider(api)
    gid = new_group(api, [(a, 3, 1), (b, 1, 1)], strategy="weighted_round_robin")
    counts = served_by(api, gid, 400)
    # Smooth WRR is exact for a stable rotation: 300/100 (a little slack for the first calls
    # racing the members' lazy starts).
    assert abs(counts[a] - 300) <= 8 and counts[a] + counts[b] == 400, counts


def test_random_follows_weights(api: httpx.Client) -> None:
    a, _ = new_provider(api)
    b, _ = new_provider(api)
    gid = new_group(api, [(a, 3, 1), (b, 1, 1)], strategy="random")
    counts = served_by(api, gid, 200)
    # Binomial(200, 0.75): sd ~6.1, so 150 +- 27 is a 4.4-sigma band.
    assert 123 <= counts[a] <= 177 and counts[a] + counts[b] == 200, counts


def test_round_robin_alternates(api: httpx.Client) -> None:
    a, _ = new_provider(api)
    b, _ = new_provider(api)
    gid = new_group(api, [a, b])
    counts = served_by(api, gid, 40, workers=1)
    assert counts == {a: 20, b: 20}


def test_priority_sends_everything_to_the_best_healthy_member(api: httpx.Client) -> None:
    primary, _ = new_provider(api)
    backup, _ = new_provider(api)
    gid = new_group(api, [(backup, 1, 5), (primary, 1, 1)], strategy="priority")
    assert served_by(api, gid, 30) == {primary: 30}
    assert api.get(f"/api/providers/{backup}").json()["state"] == "cold"  # never needed


def test_least_connections_spreads_slow_calls(api: httpx.Client) -> None:
    members = [new_provider(api)[0] for _ in range(3)]
    gid = new_group(api, members, strategy="least_connections")
    # Started first, so that start-up time does not skew who is busy.
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        assert all(r.status_code == 200 for r in pool.map(lambda p: api.post(f"/api/providers/{p}/start"), members))

    def slow(_: int) -> str:
        r = group_invoke(api, gid, "slow", seconds=1.5)
        assert r.status_code == 200, r.text
        return str(r.json()["provider_id"])

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        counts = Counter(pool.map(slow, range(6)))
    assert sorted(counts.values()) == [2, 2, 2], counts
