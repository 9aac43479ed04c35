"""Membership, leadership and shared limits over the real coordination tables (PostgreSQL when
``HANGAR_TEST_PG_URL`` is set, SQLite otherwise: the contract is the same)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from hangar.app.cluster import Leadership, Membership, SharedLockouts, SharedRateLimit
from hangar.store.cluster import ClusterStore

from ..store.conftest import BACKENDS, PG_URL, pg_execute, with_schema  # noqa: F401


@pytest.fixture
async def url(tmp_path: object) -> AsyncIterator[str]:
    import uuid

    from hangar.store import migrate

    if PG_URL:
        schema = f"hangar_test_{uuid.uuid4().hex[:12]}"
        await pg_execute(PG_URL, f"CREATE SCHEMA {schema}")
        url = with_schema(PG_URL, schema)
        await migrate(url)
        try:
            yield url
        finally:
            await pg_execute(PG_URL, f"DROP SCHEMA {schema} CASCADE")
    else:
        url = f"sqlite+aiosqlite:///{tmp_path}/events.db"
        await migrate(url)
        yield url


@pytest.fixture
async def stores(url: str) -> AsyncIterator[list[ClusterStore]]:
    """Three replicas' coordination stores (three engines, as three processes would have)."""
    made = [ClusterStore(url) for _ in range(3)]
    for s in made:
        await s.start()
    yield made
    for s in made:
        await s.close()


async def test_one_leader_and_a_new_one_within_the_ttl(stores: list[ClusterStore]) -> None:
    leaders = [Leadership(s, f"r{i}", ttl_s=1.5, renew_s=0.2) for i, s in enumerate(stores)]
    for leader in leaders:
        await leader.start()
    try:
        await asyncio.sleep(0.5)
        holding = [x for x in leaders if x.is_leader]
        assert len(holding) == 1
        old = holding[0]
        first_generation = old.generation
        # The leader dies without a word (its loop stops; nothing is released).
        await old._loop.stop()
        died = time.monotonic()
        while not any(x.is_leader for x in leaders if x is not old):
            assert time.monotonic() - died < 3.0, "no new leader within the TTL"
            await asyncio.sleep(0.05)
        successor = next(x for x in leaders if x is not old and x.is_leader)
        assert successor.generation == first_generation + 1
        assert time.monotonic() - died < 1.5 + 0.5
        assert not old.is_leader  # it stopped believing before the successor took over
    finally:
        for leader in leaders:
            await leader.close()


async def test_membership_sees_live_replicas_and_forgets_stopped_ones(stores: list[ClusterStore]) -> None:
    members = [
        Membership(s, f"m{i}", f"http://127.0.0.1:{9000 + i}", heartbeat_s=0.2, ttl_s=1.0)
        for i, s in enumerate(stores)
    ]
    for m in members:
        await m.start()
    await members[0].beat()
    assert set(members[0].live) == {"m0", "m1", "m2"}
    await members[2].close()
    await members[0].beat()
    assert set(members[0].live) == {"m0", "m1"}
    await members[1]._loop.stop()  # dies without a word: gone once its heartbeat is stale
    await asyncio.sleep(1.2)
    await members[0].beat()
    assert set(members[0].live) == {"m0"}
    await members[0].close()
    await members[1].close()


async def test_a_rate_limit_holds_across_replicas(stores: list[ClusterStore]) -> None:
    limits = [SharedRateLimit(s, rate=10) for s in stores]
    admitted = 0
    start = time.time()
    now = float(int(start) + 1)  # the start of a fresh window, for every replica alike
    for i in range(90):
        if await limits[i % 3].take("alice", now=now + i * 0.001) == 0.0:
            admitted += 1
    assert admitted == 10
    assert await limits[0].take("alice", now=now + 1.0) == 0.0  # next window
    assert await limits[1].take("bob", now=now + 0.5) == 0.0  # per principal


async def test_concurrent_requests_share_upserts_and_still_count_one_by_one(stores: list[ClusterStore]) -> None:
    """60 requests at once on each of three replicas: a handful of row writes, not 180, and
    still exactly the limit admitted across the replicas."""
    hits: list[int] = []
    for s in stores:
        real = s.hit

        async def counted(bucket: str, window: int, n: int = 1, real=real) -> int:  # type: ignore[no-untyped-def]
            hits.append(n)
            return await real(bucket, window, n)

        s.hit = counted  # type: ignore[method-assign]
    limits = [SharedRateLimit(s, rate=10) for s in stores]
    now = float(int(time.time()) + 1)
    waits = await asyncio.gather(*(limits[i % 3].take("carol", now=now) for i in range(180)))
    assert sum(1 for w in waits if w == 0.0) == 10
    assert sum(hits) == 180 and len(hits) <= 9  # every request counted, in a few upserts
    assert all(w == 1.0 for w in waits if w)  # refused ones wait for the next window
    assert await limits[0].take("carol", now=now + 0.5) == 0.5  # spent: refused without a write
    assert sum(hits) == 180


async def test_a_late_hit_from_an_older_window_counts_in_the_newer_one(stores: list[ClusterStore]) -> None:
    a, b = stores[:2]
    assert await a.hit("rate:dave", 101, 10) == 10
    # A replica still in window 100 (it waited, or its clock is behind) must not restart the count.
    assert await b.hit("rate:dave", 100) == 11
    assert await a.hit("rate:dave", 101) == 12
    assert await a.hit("rate:dave", 102) == 1


async def test_a_lockout_on_one_replica_holds_on_the_others(stores: list[ClusterStore]) -> None:
    locks = [SharedLockouts(s, max_failures=3, window_s=60, lockout_s=30, refresh_s=0.0) for s in stores]
    now = time.time()
    assert await locks[0].failure("10.0.0.9", now=now) is None
    assert await locks[1].failure("10.0.0.9", now=now) is None
    assert await locks[2].failure("10.0.0.9", now=now) == 30
    for lock in locks:
        assert await lock.retry_after("10.0.0.9", now=now + 1) == pytest.approx(29, abs=0.01)
        assert await lock.retry_after("10.0.0.8", now=now + 1) == 0.0


def test_a_second_instance_on_one_sqlite_file_is_refused(tmp_path: object) -> None:
    from hangar.store.instance_lock import InstanceConflictError, SingleInstanceLock

    url = f"sqlite+aiosqlite:///{tmp_path}/data/hangar.db"
    first = SingleInstanceLock(url)
    first.acquire()
    second = SingleInstanceLock(url)
    with pytest.raises(InstanceConflictError, match=r"pid \d+.*hangar\.db.*PostgreSQL"):
        second.acquire()
    first.release()
    second.acquire()  # free again once the first has gone
    second.release()
    SingleInstanceLock("postgresql+asyncpg://u@h/db").acquire()  # not taken on PostgreSQL
