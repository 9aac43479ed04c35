"""LogBuffer: bounded, tail, live subscription that never blocks the writer."""

from __future__ import annotations

import asyncio
from datetime import datetime

from hangar.runtime import LogBuffer


def test_bounded_keeps_the_newest_lines() -> None:
    buf = LogBuffer("p", maxlen=1000)
    for i in range(2500):
        buf.append(f"line {i}")
    assert len(buf) == 1000
    assert buf.total_lines == 2500
    assert buf.tail(1)[0].line == "line 2499"
    assert buf.tail()[0].line == "line 1500"


def test_huge_lines_are_truncated() -> None:
    buf = LogBuffer("p", max_line_chars=100)
    line = buf.append("x" * 10_000).line
    assert line.startswith("x" * 100) and line.endswith("[9900 chars truncated]")


def test_tail_and_entry_shape() -> None:
    buf = LogBuffer("prov-1")
    buf.append("a")
    buf.append("b", stream="stdout")
    buf.append("c")
    assert [e.line for e in buf.tail(2)] == ["b", "c"]
    assert buf.tail(0) == []
    assert [e.line for e in buf.tail(10)] == ["a", "b", "c"]
    entry = buf.tail(1)[0]
    assert entry.provider_id == "prov-1" and entry.stream == "stderr"
    assert entry.timestamp.endswith("Z")
    assert datetime.fromisoformat(entry.timestamp.replace("Z", "+00:00")).utcoffset() is not None
    assert buf.last_line() == "c"
    assert buf.last_line("stdout") == "b"


async def test_subscriber_receives_live_entries_and_ends_on_close() -> None:
    buf = LogBuffer("p")
    buf.append("before")
    sub = buf.subscribe()
    received: list[str] = []

    async def consume() -> None:
        async for entry in sub:
            received.append(entry.line)

    task = asyncio.create_task(consume())
    for i in range(5):
        buf.append(f"live {i}")
        await asyncio.sleep(0)
    await asyncio.sleep(0)
    sub.close()
    await asyncio.wait_for(task, 1)
    assert received == [f"live {i}" for i in range(5)]
    assert not sub.dropped
    assert buf.subscriber_count == 0


async def test_slow_subscriber_is_dropped_without_blocking_the_writer() -> None:
    buf = LogBuffer("p", subscriber_queue_size=10)
    slow = buf.subscribe()
    fast = buf.subscribe(maxsize=10_000)
    for i in range(100):  # synchronous: a writer that blocked would never get past this loop
        buf.append(f"l{i}")
    assert slow.dropped and slow.closed
    assert not fast.dropped
    assert buf.subscriber_count == 1
    # The dropped subscriber still drains what it had, then ends instead of hanging.
    lines = [e.line async for e in slow]
    assert lines == [f"l{i}" for i in range(10)]
    fast.close()
    assert len([e async for e in fast]) == 100


def test_listener_callback_and_failing_listener_removed() -> None:
    buf = LogBuffer("p")
    seen: list[str] = []
    remove = buf.add_listener(lambda e: seen.append(e.line))

    def broken(_: object) -> None:
        raise RuntimeError("boom")

    buf.add_listener(broken)
    buf.append("x")
    buf.append("y")
    remove()
    buf.append("z")
    assert seen == ["x", "y"]
