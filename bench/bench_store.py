"""Event store benchmark: group-commit append rate, raw replay rate, aggregate load time.

    .venv/bin/python bench/bench_store.py                      # SQLite (FULL) in a temp dir
    .venv/bin/python bench/bench_store.py --db postgresql+asyncpg://postgres@127.0.0.1/test

A PostgreSQL run uses a throwaway schema in that database and drops it afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from hangar.app.ports import NewEvent, Snapshot
from hangar.store import SqlEventStore, create_event_store, migrate

DATA = b'{"event_type":"ProviderStateChanged","provider_id":"p-%05d","old":"cold","new":"ready"}'
META = b'{"correlation_id":"c0ffee","causation_id":null,"principal":"bench","instance":"i-1"}'
_counter = 0


def event_id() -> str:
    # Time-ordered ids (UUIDv7 layout): new index entries land on the right edge of the
    # event_id B-tree instead of dirtying a random page per event, which matters at commit.
    global _counter
    _counter += 1
    return f"{time.time_ns() // 1_000_000:012x}-7{_counter:015x}"


def new_event(i: int) -> NewEvent:
    return NewEvent(event_id(), "ProviderStateChanged", DATA % (i % 100_000), META)


async def bench_append(store: SqlEventStore, appenders: int, seconds: float) -> tuple[float, float]:
    stop = time.perf_counter() + seconds
    counts = [0] * appenders

    async def appender(n: int) -> None:
        stream = f"provider:bench-{n}"
        version = await store.stream_version(stream)
        while time.perf_counter() < stop:
            version, _ = await store.append(stream, version, [new_event(n)])
            counts[n] += 1

    tx0 = store.transactions
    start = time.perf_counter()
    await asyncio.gather(*(appender(n) for n in range(appenders)))
    elapsed = time.perf_counter() - start
    total = sum(counts)
    return total / elapsed, total / max(1, store.transactions - tx0)


async def fill(store: SqlEventStore, total: int, stream_of: Callable[[int], str]) -> None:
    """Bulk load through the store itself: big append calls, many in flight."""
    per_call = 500
    calls = total // per_call

    async def worker(w: int) -> None:
        for c in range(w, calls, 16):
            await store.append(stream_of(c), None, [new_event(c * per_call + k) for k in range(per_call)])

    await asyncio.gather(*(worker(w) for w in range(16)))


async def bench_replay(store: SqlEventStore, page: int) -> float:
    start = time.perf_counter()
    position, n = 0, 0
    while True:
        batch = await store.read_all(position, page)
        if not batch:
            break
        n += len(batch)
        position = batch[-1].position
    return n / (time.perf_counter() - start)


async def bench_load(store: SqlEventStore, stream: str, tail: int) -> tuple[float, float]:
    version = await store.stream_version(stream)
    await store.save_snapshot(Snapshot(stream, version - tail, b"x" * 2_000))
    samples = []
    for _ in range(200):
        t = time.perf_counter()
        snap = await store.load_snapshot(stream)
        assert snap is not None
        events = await store.read_stream(stream, snap.version)
        samples.append(time.perf_counter() - t)
        assert len(events) == tail
    samples.sort()
    return statistics.median(samples) * 1e3, samples[int(len(samples) * 0.95)] * 1e3


async def run(url: str, replay_events: int, append_seconds: float, sync: str) -> list[tuple[str, str]]:
    await migrate(url)
    rows: list[tuple[str, str]] = []
    store = create_event_store(url, sqlite_synchronous=sync)
    await store.start()
    try:
        rate, per_tx = await bench_append(store, 64, append_seconds)
        rows.append(("append, 64 concurrent x 1 event", f"{rate:,.0f} events/s ({per_tx:.1f} per commit)"))

        have = await store.last_position()
        if have < replay_events:
            t = time.perf_counter()
            await fill(store, replay_events - have, lambda c: f"provider:fill-{c % 1000}")
            rows.append(
                (
                    "bulk fill (500-event appends)",
                    f"{(replay_events - have) / (time.perf_counter() - t):,.0f} events/s",
                )
            )
        for page in (5_000, 10_000):
            rows.append((f"read_all replay, page {page}", f"{await bench_replay(store, page):,.0f} events/s"))

        stream = "provider:big"
        if await store.stream_version(stream) < 100_000:
            await fill(store, 100_000, lambda c: stream)
        median, p95 = await bench_load(store, stream, tail=20)
        rows.append(("load 100k-event stream (snapshot + 20 tail)", f"median {median:.2f} ms, p95 {p95:.2f} ms"))
    finally:
        await store.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--db", help="database URL (default: SQLite file in a temp dir)")
    parser.add_argument("--events", type=int, default=1_000_000, help="events for the replay test")
    parser.add_argument("--append-seconds", type=float, default=5.0)
    parser.add_argument("--sync", default="FULL", help="SQLite synchronous mode (FULL is the default)")
    args = parser.parse_args()

    if args.db and args.db.startswith("postgresql"):
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        url = f"{args.db}{'&' if '?' in args.db else '?'}schema={schema}"
        asyncio.run(_pg_schema(args.db, f"CREATE SCHEMA {schema}"))
        try:
            rows = asyncio.run(run(url, args.events, args.append_seconds, args.sync))
        finally:
            asyncio.run(_pg_schema(args.db, f"DROP SCHEMA {schema} CASCADE"))
        label = "PostgreSQL"
    elif args.db:
        rows = asyncio.run(run(args.db, args.events, args.append_seconds, args.sync))
        label = args.db
    else:
        with tempfile.TemporaryDirectory() as tmp:
            rows = asyncio.run(run(f"sqlite+aiosqlite:///{tmp}/bench.db", args.events, args.append_seconds, args.sync))
        label = f"SQLite (WAL, synchronous={args.sync})"

    width = max(len(name) for name, _ in rows)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\n{label}  [python {sys.version.split()[0]}, {os.cpu_count()} cpus, load average {load}]")
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")


async def _pg_schema(url: str, ddl: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text(ddl))
    finally:
        await engine.dispose()


if __name__ == "__main__":
    main()
