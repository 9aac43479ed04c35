"""The EventStore contract: appends, reads, optimistic concurrency, idempotency, snapshots."""

from __future__ import annotations

import time

import pytest

from hangar.app.ports import EventStore, Snapshot
from hangar.domain.errors import ConcurrencyError, NoSnapshotError
from hangar.store import DuplicateEventError, SqlEventStore, create_event_store

from .conftest import StoreFactory, ev


async def test_append_and_read_back(store: SqlEventStore) -> None:
    before = time.time()
    events = [ev("e1", b'{"n":1}'), ev("e2", b'{"n":2}'), ev("e3", b"\x00\xffbinary")]
    version, position = await store.append("provider:a", 0, events)
    assert version == 3

    recorded = await store.read_stream("provider:a")
    assert [e.stream_version for e in recorded] == [1, 2, 3]
    assert [e.event_id for e in recorded] == ["e1", "e2", "e3"]
    assert [e.data for e in recorded] == [b'{"n":1}', b'{"n":2}', b"\x00\xffbinary"]
    assert all(e.metadata == b'{"principal":"test"}' for e in recorded)
    assert all(e.event_type == "Tested" and e.stream_id == "provider:a" for e in recorded)
    assert all(before - 1 <= e.recorded_at <= time.time() + 1 for e in recorded)
    positions = [e.position for e in recorded]
    assert positions == sorted(positions) and positions[-1] == position
    assert len(set(positions)) == 3

    assert await store.stream_version("provider:a") == 3
    assert await store.stream_version("provider:missing") == 0
    assert await store.count_stream("provider:a") == 3
    assert await store.count_stream("provider:a", from_version=1) == 2
    assert await store.last_position() == position
    assert await store.read_all() == recorded


async def test_read_stream_window(store: SqlEventStore) -> None:
    await store.append("s", 0, [ev() for _ in range(10)])
    await store.append("other", 0, [ev()])
    window = await store.read_stream("s", from_version=3, limit=4)
    assert [e.stream_version for e in window] == [4, 5, 6, 7]
    assert [e.stream_version for e in await store.read_stream("s", from_version=8)] == [9, 10]
    assert await store.read_stream("s", from_version=10) == []
    assert await store.read_stream("nothing") == []


async def test_read_all_pages_in_order(store: SqlEventStore) -> None:
    for i in range(5):
        await store.append(f"s{i % 2}", None, [ev(), ev()])
    everything = await store.read_all(0, 100)
    assert len(everything) == 10
    assert [e.position for e in everything] == sorted(e.position for e in everything)
    page1 = await store.read_all(0, 4)
    page2 = await store.read_all(page1[-1].position, 4)
    page3 = await store.read_all(page2[-1].position, 4)
    assert page1 + page2 + page3 == everything
    assert await store.read_all(everything[-1].position) == []


async def test_expected_version_conflict(store: SqlEventStore) -> None:
    assert await store.append("s", 0, [ev()]) == (1, (await store.read_all())[0].position)
    with pytest.raises(ConcurrencyError) as err:
        await store.append("s", 0, [ev()])
    assert (err.value.stream_id, err.value.expected, err.value.actual) == ("s", 0, 1)
    with pytest.raises(ConcurrencyError) as err:
        await store.append("s", 5, [ev()])
    assert err.value.actual == 1
    with pytest.raises(ConcurrencyError):
        await store.append("fresh", 1, [ev()])  # a stream that does not exist is at 0
    assert (await store.append("s", 1, [ev()]))[0] == 2
    assert (await store.append("s", None, [ev()]))[0] == 3  # None skips the check
    assert await store.count_stream("s") == 3
    assert await store.stream_version("fresh") == 0


async def test_empty_append_checks_version_only(store: SqlEventStore) -> None:
    await store.append("s", 0, [ev()])
    assert (await store.append("s", 1, []))[0] == 1
    with pytest.raises(ConcurrencyError):
        await store.append("s", 0, [])
    assert await store.count_stream("s") == 1


async def test_retry_with_same_event_ids_is_idempotent(store: SqlEventStore) -> None:
    first = await store.append("s", 0, [ev("a"), ev("b")])
    last = await store.last_position()
    # The client did not see the answer and retries with the same request.
    assert await store.append("s", 0, [ev("a"), ev("b")]) == first
    assert await store.append("s", None, [ev("a"), ev("b")]) == first
    assert await store.append("s", 0, [ev("b")]) == first  # a subset is still a retry
    assert await store.count_stream("s") == 2 and await store.last_position() == last

    # After the stream moved on, a retry answers with the stream's current head.
    _, position = await store.append("s", 2, [ev("c")])
    assert await store.append("s", 0, [ev("a"), ev("b")]) == (3, position)
    assert await store.count_stream("s") == 3


async def test_clashing_event_ids_are_rejected(store: SqlEventStore) -> None:
    await store.append("s", 0, [ev("a")])
    with pytest.raises(DuplicateEventError):
        await store.append("s", 1, [ev("a"), ev("new")])  # partly a retry: ambiguous
    with pytest.raises(DuplicateEventError):
        await store.append("other", 0, [ev("a")])  # id already used by another stream
    with pytest.raises(ConcurrencyError):  # DuplicateEventError is a ConcurrencyError (409)
        await store.append("other", None, [ev("x"), ev("x")])
    assert await store.count_stream("s") == 1
    assert await store.stream_version("other") == 0
    assert (await store.append("s", 1, [ev("b")]))[0] == 2


async def test_snapshots_upsert_only_forward(store: SqlEventStore) -> None:
    assert await store.load_snapshot("s") is None
    await store.save_snapshot(Snapshot("s", 5, b"five"))
    assert await store.load_snapshot("s") == Snapshot("s", 5, b"five")
    await store.save_snapshot(Snapshot("s", 3, b"three"))  # older: ignored
    assert await store.load_snapshot("s") == Snapshot("s", 5, b"five")
    await store.save_snapshot(Snapshot("s", 8, b"eight"))
    assert await store.load_snapshot("s") == Snapshot("s", 8, b"eight")
    assert await store.load_snapshot("t") is None


async def test_compaction_keeps_the_head(store: SqlEventStore) -> None:
    with pytest.raises(NoSnapshotError):
        await store.compact("s")
    await store.append("s", 0, [ev() for _ in range(10)])
    await store.append("keep", 0, [ev() for _ in range(3)])
    await store.save_snapshot(Snapshot("s", 6, b"state@6"))

    assert await store.compact("s") == 6
    assert await store.compact("s") == 0
    assert [e.stream_version for e in await store.read_stream("s")] == [7, 8, 9, 10]
    assert await store.count_stream("s") == 4
    assert await store.stream_version("s") == 10
    assert await store.count_stream("keep") == 3
    assert (await store.append("s", 10, [ev()]))[0] == 11

    # Compact everything: the head must still be known (from the snapshot, not a count).
    await store.save_snapshot(Snapshot("s", 11, b"state@11"))
    assert await store.compact("s") == 5
    assert await store.read_stream("s") == []
    assert await store.stream_version("s") == 11
    with pytest.raises(ConcurrencyError):
        await store.append("s", 0, [ev()])
    assert (await store.append("s", 11, [ev()]))[0] == 12


async def test_head_survives_full_compaction_across_restart(open_store: StoreFactory) -> None:
    first = await open_store()
    await first.append("s", 0, [ev(), ev()])
    await first.save_snapshot(Snapshot("s", 2, b"x"))
    assert await first.compact("s") == 2
    await first.close()
    second = await open_store()  # no cached heads
    assert await second.stream_version("s") == 2
    with pytest.raises(ConcurrencyError):
        await second.append("s", 0, [ev()])
    assert (await second.append("s", 2, [ev()]))[0] == 3


async def test_positions_are_never_reused(store: SqlEventStore) -> None:
    await store.append("a", 0, [ev()])
    _, last = await store.append("s", 0, [ev(), ev()])
    await store.save_snapshot(Snapshot("s", 2, b""))
    await store.compact("s")  # deletes the newest rows of the table
    _, position = await store.append("b", 0, [ev()])
    assert position > last


async def test_operations_after_close_fail(store: SqlEventStore) -> None:
    await store.close()
    with pytest.raises(RuntimeError):
        await store.append("s", 0, [ev()])
    with pytest.raises(RuntimeError):
        await store.read_all()
    await store.close()  # idempotent


def test_implements_the_port() -> None:
    # Checked by mypy: the store satisfies the application's EventStore protocol.
    port: EventStore = create_event_store("sqlite+aiosqlite:///unused/events.db")
    assert isinstance(port, SqlEventStore)
