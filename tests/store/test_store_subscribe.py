"""Subscriptions: catch-up then live, commit order, no gaps or duplicates, clean endings."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from hangar.app.ports import RecordedEvent
from hangar.store import SqlEventStore

from .conftest import StoreFactory, ev


async def collect(it: AsyncIterator[RecordedEvent], n: int, seconds: float = 10) -> list[RecordedEvent]:
    out: list[RecordedEvent] = []

    async def run() -> None:
        async for event in it:
            out.append(event)
            if len(out) == n:
                return

    await asyncio.wait_for(run(), seconds)
    return out


async def test_catch_up_then_live(store: SqlEventStore) -> None:
    for i in range(5):
        await store.append(f"s{i % 2}", None, [ev(f"old-{i}")])
    subscription = store.subscribe(0)
    caught_up = await collect(subscription, 5)
    assert [e.event_id for e in caught_up] == [f"old-{i}" for i in range(5)]

    async def produce() -> None:
        for i in range(20):
            await store.append(f"s{i % 3}", None, [ev(f"new-{i}")])

    producer = asyncio.create_task(produce())
    live = await collect(subscription, 20)
    await producer
    assert [e.event_id for e in live] == [f"new-{i}" for i in range(20)]
    everything = caught_up + live
    assert everything == await store.read_all(0, 100)


async def test_subscribe_from_checkpoint(store: SqlEventStore) -> None:
    await store.append("s", 0, [ev() for _ in range(6)])
    everything = await store.read_all()
    got = await collect(store.subscribe(everything[2].position), 3)
    assert got == everything[3:]


async def test_live_subscribers_see_the_commit_order(open_store: StoreFactory) -> None:
    # A tiny tail and page force every path: memory tail, DB pages, fall-backs.
    store = await open_store(tail_capacity=8, subscribe_page_size=7)
    subscribers = [store.subscribe(0) for _ in range(3)]
    tasks = [asyncio.create_task(collect(s, 300)) for s in subscribers]
    await asyncio.sleep(0.05)
    await asyncio.gather(*(store.append(f"s{i % 7}", None, [ev(), ev()] if i % 3 == 0 else [ev()]) for i in range(225)))
    expected = await store.read_all(0, 1000)
    assert len(expected) == 300
    for got in await asyncio.gather(*tasks):
        assert got == expected


async def test_subscriber_sees_other_writers(open_store: StoreFactory) -> None:
    reader, writer = await open_store(), await open_store()
    subscription = reader.subscribe(0)
    task = asyncio.create_task(collect(subscription, 30))
    for i in range(10):
        await writer.append("w", None, [ev(f"w-{i}")])
        await reader.append("r", None, [ev(f"r-{i}")])  # interleaves with the other writer
        await writer.append("w2", None, [ev(f"x-{i}")])
    got = await task
    assert got == await reader.read_all(0, 100)


async def test_subscriber_ends_when_store_closes(store: SqlEventStore) -> None:
    await store.append("s", 0, [ev()])
    received: list[RecordedEvent] = []
    got_one = asyncio.Event()

    async def consume() -> None:
        async for event in store.subscribe(0):
            received.append(event)
            got_one.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(got_one.wait(), 5)
    await asyncio.sleep(0.05)  # now idle, waiting for live events
    await store.close()
    await asyncio.wait_for(task, 5)  # ends normally, no exception
    assert len(received) == 1


async def test_subscriber_cancellation_is_clean(store: SqlEventStore) -> None:
    async def consume() -> None:
        async for _ in store.subscribe(0):
            pass

    task = asyncio.create_task(consume())
    await store.append("s", 0, [ev()])
    await asyncio.sleep(0.1)
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    assert task.cancelled()
    # The store still works and closes without waiting on the dead subscriber.
    await store.append("s", 1, [ev()])
    await asyncio.wait_for(store.close(), 5)
