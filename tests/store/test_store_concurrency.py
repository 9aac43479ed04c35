"""Group commit under concurrency: batching, per-caller outcomes, several writers."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import pytest

from hangar.domain.errors import ConcurrencyError
from hangar.store import DuplicateEventError, SqlEventStore

from .conftest import StoreFactory, ev


async def test_many_concurrent_appenders_lose_nothing(store: SqlEventStore) -> None:
    streams = [f"s{i}" for i in range(4)]

    async def blind(i: int) -> tuple[str, int, int]:
        stream = streams[i % 4]
        version, position = await store.append(stream, None, [ev(f"blind-{i}")])
        return stream, version, position

    async def optimistic(i: int) -> tuple[str, int, int]:
        stream = streams[i % 4]
        while True:  # the read-decide-append loop of a command handler
            current = await store.stream_version(stream)
            try:
                version, position = await store.append(stream, current, [ev(f"opt-{i}")])
                return stream, version, position
            except ConcurrencyError as exc:
                assert exc.actual > current

    tx_before = store.transactions
    results = await asyncio.gather(*(blind(i) for i in range(160)), *(optimistic(i) for i in range(160, 200)))
    assert store.transactions - tx_before < 200  # batched

    per_stream: dict[str, list[int]] = defaultdict(list)
    for stream, version, _ in results:
        per_stream[stream].append(version)
    for stream in streams:
        assert sorted(per_stream[stream]) == list(range(1, 51))
        stored = await store.read_stream(stream)
        assert [e.stream_version for e in stored] == list(range(1, 51))

    everything = await store.read_all(0, 1000)
    assert len(everything) == 200
    assert sorted(e.position for e in everything) == [e.position for e in everything]
    by_id = {e.event_id: e for e in everything}
    for stream, version, position in results:
        matches = [e for e in everything if e.position == position]
        assert len(matches) == 1
        assert (matches[0].stream_id, matches[0].stream_version) == (stream, version)
    assert len(by_id) == 200


async def test_group_commit_batches_concurrent_appends(store: SqlEventStore) -> None:
    before = store.transactions
    await asyncio.gather(*(store.append(f"s{i}", 0, [ev()]) for i in range(200)))
    transactions = store.transactions - before
    # All 200 are queued before the writer runs; batch_max=500, so one commit suffices.
    assert transactions <= 2, transactions
    assert await store.last_position() >= 200


async def test_batch_max_bounds_batches(open_store: StoreFactory) -> None:
    store = await open_store(batch_max=10)
    before = store.transactions
    await asyncio.gather(*(store.append(f"s{i}", 0, [ev()]) for i in range(100)))
    assert store.transactions - before == 10


async def test_conflict_fails_only_its_caller(store: SqlEventStore) -> None:
    await store.append("busy", 0, [ev()])
    before = store.transactions
    tasks = [asyncio.ensure_future(store.append(f"ok{i}", 0, [ev()])) for i in range(10)]
    stale = asyncio.ensure_future(store.append("busy", 0, [ev()]))
    tasks += [asyncio.ensure_future(store.append(f"ok{i}", 1, [ev()])) for i in range(10, 15)]
    results = await asyncio.gather(*tasks, stale, return_exceptions=True)
    assert store.transactions - before == 1  # one batch, one commit
    assert isinstance(results[-1], ConcurrencyError)
    assert results[-1].actual == 1
    assert all(isinstance(r, tuple) and r[0] == 1 for r in results[:10])
    assert all(isinstance(r, ConcurrencyError) for r in results[10:15])
    assert await store.stream_version("busy") == 1


async def test_same_stream_in_one_batch_behaves_sequentially(store: SqlEventStore) -> None:
    before = store.transactions
    first = asyncio.ensure_future(store.append("s", 0, [ev(), ev()]))
    second = asyncio.ensure_future(store.append("s", 2, [ev()]))  # sees `first`
    stale = asyncio.ensure_future(store.append("s", 0, [ev()]))
    blind = asyncio.ensure_future(store.append("s", None, [ev()]))
    results = await asyncio.gather(first, second, stale, blind, return_exceptions=True)
    assert store.transactions - before == 1
    assert results[0][0] == 2 and results[1][0] == 3  # type: ignore[index]
    assert isinstance(results[2], ConcurrencyError) and results[2].actual == 3
    assert results[3][0] == 4  # type: ignore[index]
    assert [e.stream_version for e in await store.read_stream("s")] == [1, 2, 3, 4]


async def test_duplicate_ids_in_one_batch_fall_back_per_caller(store: SqlEventStore) -> None:
    await store.append("taken", 0, [ev("owned")])
    original = asyncio.ensure_future(store.append("s", 0, [ev("x1"), ev("x2")]))
    retry = asyncio.ensure_future(store.append("s", 0, [ev("x1"), ev("x2")]))  # raced retry
    thief = asyncio.ensure_future(store.append("t", 0, [ev("owned")]))
    bystanders = [asyncio.ensure_future(store.append(f"b{i}", 0, [ev()])) for i in range(5)]
    results = await asyncio.gather(original, retry, thief, *bystanders, return_exceptions=True)
    assert results[0] == results[1]  # the retry is answered like the original
    assert isinstance(results[2], DuplicateEventError)
    assert all(isinstance(r, tuple) and r[0] == 1 for r in results[3:])
    assert await store.count_stream("s") == 2
    assert await store.stream_version("t") == 0


async def test_cancelled_caller_does_not_block_others(store: SqlEventStore) -> None:
    doomed = asyncio.ensure_future(store.append("c", 0, [ev()]))
    others = [asyncio.ensure_future(store.append(f"o{i}", 0, [ev()])) for i in range(5)]
    doomed.cancel()
    results = await asyncio.gather(*others)
    assert all(r[0] == 1 for r in results)
    with pytest.raises(asyncio.CancelledError):
        await doomed


async def test_two_writers_on_one_database(open_store: StoreFactory) -> None:
    """Two store instances (two replicas, or two processes on one SQLite file) with stale
    head caches: every outcome is still correct and no event is lost or duplicated."""
    a, b = await open_store(), await open_store()
    await a.append("shared", 0, [ev()])
    assert await b.stream_version("shared") == 1
    # Warm both caches, then let them race.
    await b.append("shared", 1, [ev()])
    results = await asyncio.gather(
        *(store.append("shared", None, [ev(f"{name}-{i}")]) for i in range(40) for name, store in (("a", a), ("b", b))),
        return_exceptions=True,
    )
    assert all(isinstance(r, tuple) for r in results), results
    versions = sorted(r[0] for r in results)  # type: ignore[index]
    assert versions == list(range(3, 83))
    stored = await a.read_stream("shared")
    assert [e.stream_version for e in stored] == list(range(1, 83))
    # Optimistic appends through the replica whose cache is stale.
    with pytest.raises(ConcurrencyError):
        await a.append("shared", 2, [ev()])
    assert (await a.append("shared", 82, [ev()]))[0] == 83
    assert (await b.append("shared", 83, [ev()]))[0] == 84


async def test_stale_head_cache_is_rechecked_not_trusted(open_store: StoreFactory) -> None:
    a, b = await open_store(), await open_store()
    await a.append("x", 0, [ev()])  # a caches x@1
    await b.append("x", 1, [ev()])  # behind a's back
    # a's cache says 1; the truth is 2. A request that matches the truth must succeed ...
    assert (await a.append("x", 2, [ev()]))[0] == 3
    await b.append("x", 3, [ev()])
    # ... and one that matches only the stale cache must fail with the true version.
    with pytest.raises(ConcurrencyError) as err:
        await a.append("x", 3, [ev()])
    assert err.value.actual == 4
    await b.append("x", 4, [ev()])
    assert (await a.append("x", None, [ev()]))[0] == 6  # blind appends land after the truth
    assert [e.stream_version for e in await a.read_stream("x")] == [1, 2, 3, 4, 5, 6]
