"""PostgreSQL: commit order must equal position order (the auto-increment gap bug).

With an identity column, position N+1 can be assigned to a transaction that commits before
the one holding N. A subscriber that has read N+1 then moves its checkpoint past N and never
sees it. The first test shows the hazard is real on raw connections; the second shows the
store's appends (advisory lock held for the whole append transaction) cannot interleave
that way, across two store instances acting as two replicas.
"""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from hangar.app.ports import RecordedEvent
from hangar.store import SqlEventStore
from hangar.store.engine import create_engine

from .conftest import StoreFactory, ev


@pytest.fixture
def pg_only(backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("PostgreSQL-specific")


_RAW_INSERT = sa.text(
    "INSERT INTO events (stream_id, stream_version, event_id, event_type, data, metadata, recorded_at)"
    " VALUES (:s, 1, :e, 'T', '\\x', '\\x', 0) RETURNING position"
)


@pytest.mark.usefixtures("pg_only")
async def test_raw_inserts_without_the_lock_commit_out_of_order(db_url: str) -> None:
    engine, _ = create_engine(db_url)
    try:
        async with engine.connect() as first, engine.connect() as second:
            low = (await first.execute(_RAW_INSERT, {"s": "a", "e": "a1"})).scalar_one()
            high = (await second.execute(_RAW_INSERT, {"s": "b", "e": "b1"})).scalar_one()
            assert low < high
            await second.commit()  # the later-numbered transaction commits first
            async with engine.connect() as reader:
                visible = (await reader.execute(sa.text("SELECT position FROM events"))).scalars().all()
            assert visible == [high]  # a reader checkpointing here would skip `low` forever
            await first.commit()
    finally:
        await engine.dispose()


@pytest.mark.usefixtures("pg_only")
async def test_store_appends_commit_in_position_order(open_store: StoreFactory) -> None:
    replica_a, replica_b, observer = await open_store(), await open_store(), await open_store()
    seen: list[RecordedEvent] = []

    async def watch() -> None:
        async for event in observer.subscribe(0):
            seen.append(event)

    watcher = asyncio.create_task(watch())

    in_transaction = asyncio.Event()
    release = asyncio.Event()

    async def hold_before_commit() -> None:
        in_transaction.set()
        await release.wait()

    replica_a.before_commit = hold_before_commit
    append_a = asyncio.create_task(replica_a.append("stream-a", 0, [ev("a1")]))
    try:
        await asyncio.wait_for(in_transaction.wait(), 5)  # A has inserted: its position is taken
        append_b = asyncio.create_task(replica_b.append("stream-b", 0, [ev("b1")]))
        await asyncio.sleep(0.5)
        # B cannot take a position, let alone commit, while A's append transaction is open.
        assert not append_b.done()
        assert seen == [] and await observer.read_all() == []
    finally:
        release.set()  # never leave replica A's writer parked, even when the test fails
    (_, position_a), (_, position_b) = await asyncio.wait_for(asyncio.gather(append_a, append_b), 5)
    assert position_a < position_b

    # More interleaved traffic from both replicas, while the observer keeps reading.
    replica_a.before_commit = None
    await asyncio.gather(*(r.append(f"s{i % 5}", None, [ev()]) for i in range(60) for r in (replica_a, replica_b)))
    everything = await observer.read_all(0, 1000)
    assert len(everything) == 122
    for _ in range(200):
        if len(seen) >= len(everything):
            break
        await asyncio.sleep(0.05)
    watcher.cancel()
    assert seen == everything  # every event, once, in commit order
    assert [e.event_id for e in seen[:2]] == ["a1", "b1"]


async def test_writer_hook_runs_inside_the_transaction(store: SqlEventStore) -> None:
    """The seam used above works on every backend: nothing is visible before the hook returns."""
    observed: list[int] = []

    async def hook() -> None:
        observed.append(len(await store.read_all()))

    store.before_commit = hook
    await store.append("s", 0, [ev()])
    assert observed == [0]
    assert len(await store.read_all()) == 1
