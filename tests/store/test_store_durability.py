"""Durability: close/reopen, draining on close, and a writer process killed with SIGKILL."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from hangar.store import SqlEventStore, StoreClosedError, create_event_store, migrate

from .conftest import StoreFactory, ev


async def test_data_survives_reopen(open_store: StoreFactory) -> None:
    first = await open_store()
    await asyncio.gather(*(first.append(f"s{i % 3}", None, [ev(f"e{i}")]) for i in range(30)))
    before = await first.read_all(0, 100)
    await first.close()

    second = await open_store()
    assert await second.read_all(0, 100) == before
    assert await second.stream_version("s0") == 10
    assert (await second.append("s0", 10, [ev()]))[0] == 11
    _, position = await second.append("new", 0, [ev()])
    assert position > before[-1].position


async def test_close_drains_pending_appends(store: SqlEventStore) -> None:
    pending = [asyncio.ensure_future(store.append(f"s{i}", 0, [ev()])) for i in range(50)]
    await asyncio.sleep(0)  # let them reach the queue
    await store.close()
    results = await asyncio.gather(*pending)
    assert all(version == 1 for version, _ in results)
    with pytest.raises(StoreClosedError):
        await store.append("late", 0, [ev()])


REPO = Path(__file__).resolve().parents[2]

_CHILD = """
import asyncio, sys
from hangar.app.ports import NewEvent
from hangar.store import create_event_store

async def main(url: str) -> None:
    store = create_event_store(url)
    await store.start()

    async def writer(n: int) -> None:
        version = 0
        while True:
            event_id = f"w{n}-{version + 1}"
            version, position = await store.append(
                f"s{n}", version, [NewEvent(event_id, "T", b"{}")]
            )
            # Printed only after append() returned, i.e. after COMMIT.
            print(f"s{n} {version} {event_id} {position}", flush=True)

    await asyncio.gather(*(writer(n) for n in range(8)))

asyncio.run(main(sys.argv[1]))
"""


async def test_acknowledged_appends_survive_sigkill(tmp_path: Path) -> None:
    """SQLite only: on PostgreSQL durability of a COMMIT is the server's job."""
    db_url = f"sqlite+aiosqlite:///{tmp_path}/events.db"
    await migrate(db_url)
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    repo = REPO
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        db_url,
        stdout=asyncio.subprocess.PIPE,
        cwd=repo,
        env={**os.environ, "PYTHONPATH": str(repo)},
    )
    assert proc.stdout is not None
    acked: list[str] = []
    try:
        while len(acked) < 400:
            line = await asyncio.wait_for(proc.stdout.readline(), 30)
            assert line, "child exited early"
            acked.append(line.decode())
    finally:
        proc.send_signal(signal.SIGKILL)
    acked += [raw.decode() for raw in (await proc.stdout.read()).splitlines()]
    await proc.wait()
    assert proc.returncode == -signal.SIGKILL

    store = create_event_store(db_url)
    await store.start()
    try:
        stored = {e.event_id: e for e in await store.read_all(0, 1_000_000)}
        for ack in acked:
            stream, version, event_id, position = ack.split()
            event = stored[event_id]
            assert (event.stream_id, event.stream_version, event.position) == (
                stream,
                int(version),
                int(position),
            )
        for n in range(8):  # versions are gap-free up to whatever did commit
            versions = [e.stream_version for e in await store.read_stream(f"s{n}")]
            assert versions == list(range(1, len(versions) + 1))
    finally:
        await store.close()


async def test_close_leaves_no_tasks_or_connections(open_store: StoreFactory) -> None:
    store = await open_store()
    baseline = asyncio.all_tasks()
    subscriber = asyncio.create_task(_drain(store))
    await asyncio.gather(*(store.append(f"s{i}", 0, [ev()]) for i in range(20)))
    await store.read_all()
    await asyncio.sleep(0.1)
    engine = store._engine
    assert engine is not None
    pool: Any = engine.pool  # dispose() swaps in a new pool: keep the one that was used
    assert pool.checkedout() <= 2  # the writer's own connection (+ a subscriber's poll)
    await store.close()
    await asyncio.wait_for(subscriber, 5)
    assert pool.checkedout() == 0
    assert asyncio.all_tasks() <= baseline  # the writer task is gone too


async def _drain(store: SqlEventStore) -> None:
    async for _ in store.subscribe(0):
        pass
