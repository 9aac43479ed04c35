"""Cluster coordination rows, as a backend contract: leases, heartbeats and shared counters
behave the same on SQLite and PostgreSQL; on PostgreSQL a commit by one replica wakes the
subscribers of another at once (LISTEN/NOTIFY), not at its next poll."""

from __future__ import annotations

import asyncio
import time

import pytest

from hangar.store.cluster import ClusterStore

from .conftest import PG_URL, StoreFactory, ev


@pytest.fixture
async def cluster(db_url: str, backend: str) -> ClusterStore:
    store = ClusterStore(db_url)
    await store.start()
    if backend == "postgresql":
        from .conftest import pg_execute

        await pg_execute(db_url, "TRUNCATE instances, leases, rate_counters")
    try:
        yield store  # type: ignore[misc]
    finally:
        await store.close()


async def test_a_lease_has_one_holder_until_it_expires(cluster: ClusterStore) -> None:
    now = 1_000.0
    first = await cluster.acquire("leader", "a", 5, now=now)
    assert first is not None and first.generation == 1
    assert await cluster.acquire("leader", "b", 5, now=now + 1) is None
    renewed = await cluster.acquire("leader", "a", 5, now=now + 2)
    assert renewed is not None and renewed.generation == 1  # a renewal keeps the fencing token
    taken = await cluster.acquire("leader", "b", 5, now=now + 7.5)
    assert taken is not None and taken.generation == 2  # a new holder gets a higher token
    assert await cluster.acquire("leader", "a", 5, now=now + 8) is None
    lease = await cluster.lease("leader")
    assert lease is not None and lease.holder == "b"


async def test_racing_replicas_never_both_win(cluster: ClusterStore) -> None:
    now = time.time()
    results = await asyncio.gather(*(cluster.acquire("provider:x", f"r{i}", 10, now=now) for i in range(8)))
    winners = [r for r in results if r is not None]
    assert len(winners) == 1


async def test_release_and_renew(cluster: ClusterStore) -> None:
    now = time.time()
    await cluster.acquire("provider:a", "me", 5, now=now)
    await cluster.acquire("provider:b", "me", 5, now=now)
    await cluster.acquire("leader", "me", 5, now=now)
    assert await cluster.renew_held("me", "provider:", 30, now=now + 1) == 2
    lease = await cluster.lease("provider:a")
    assert lease is not None and lease.expires_at == pytest.approx(now + 31)
    await cluster.release("provider:a", "me")
    assert await cluster.acquire("provider:a", "other", 5, now=now + 2) is not None
    await cluster.release("provider:b", "not-the-holder")
    assert await cluster.acquire("provider:b", "other", 5, now=now + 2) is None


async def test_heartbeats_tell_live_from_gone(cluster: ClusterStore) -> None:
    now = time.time()
    await cluster.heartbeat("a", "http://127.0.0.1:1", now - 100, now=now)
    await cluster.heartbeat("b", "http://127.0.0.1:2", now - 100, now=now - 30)
    await cluster.heartbeat("c", "http://127.0.0.1:3", now - 100, now=now)
    await cluster.acquire("provider:p", "c", 60, now=now)
    await cluster.mark_stopped("c")
    assert await cluster.live_instances(10, now=now) == {"a": "http://127.0.0.1:1"}
    # A clean stop hands its leases back.
    assert await cluster.acquire("provider:p", "a", 5, now=now) is not None


async def test_shared_counter_counts_per_window(cluster: ClusterStore) -> None:
    counts = await asyncio.gather(*(cluster.hit("key:k1", 100) for _ in range(10)))
    assert sorted(counts) == list(range(1, 11))
    assert await cluster.hit("key:k1", 101) == 1  # a new window starts from one
    assert await cluster.count("key:k1", 101) == 1
    assert await cluster.count("key:k1", 100) == 0


@pytest.mark.skipif(not PG_URL, reason="LISTEN/NOTIFY is PostgreSQL's; HANGAR_TEST_PG_URL is not set")
async def test_another_replicas_commit_wakes_subscribers_at_once(open_store: StoreFactory, backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    # A poll interval far longer than the assertion's bound: only the notification can be fast.
    reader = await open_store(poll_interval_s=30)
    writer = await open_store(poll_interval_s=30)
    start = await reader.last_position()
    received: list[float] = []

    async def follow() -> None:
        async for event in reader.subscribe(start):
            received.append(time.perf_counter())
            if event.stream_id == "s:done":
                return

    task = asyncio.create_task(follow())
    await asyncio.sleep(0.3)  # the subscription has caught up and waits
    delays = []
    for i in range(20):
        sent = time.perf_counter()
        await writer.append(f"s:{i}", None, [ev()])
        while len(received) <= i:  # noqa: ASYNC110 - measuring the arrival, polling is the probe
            await asyncio.sleep(0.001)
        delays.append(received[i] - sent)
    await writer.append("s:done", None, [ev()])
    await asyncio.wait_for(task, 5)
    assert max(delays) < 0.5, delays
