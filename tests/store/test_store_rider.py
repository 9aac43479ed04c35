"""A rider (a command's audit record) is written in the same transaction as the append it rides
on, only if that append is accepted, and the caller's answer covers it."""

from __future__ import annotations

import asyncio

import pytest

from hangar.app.ports import NewEvent
from hangar.domain.errors import ConcurrencyError
from hangar.store import SqlEventStore

from .conftest import ev


def _appender(store: SqlEventStore, outcomes: list[bool]):  # type: ignore[no-untyped-def]
    """``store.append`` with an audit record riding on it (none for the stream "skip")."""

    async def append(stream_id: str, expected: int | None, events: list[NewEvent]) -> tuple[int, int]:
        record = ev(event_type="Audited", data=f'{{"for":"{stream_id}"}}'.encode())
        rider = None if stream_id == "skip" else ("audit", (record,))
        try:
            answer = await store.append(stream_id, expected, events, rider=rider)
        except BaseException:
            outcomes.append(False)
            raise
        if rider is not None:
            outcomes.append(True)
        return answer

    return append


async def test_rider_shares_the_transaction_and_the_answer(store: SqlEventStore) -> None:
    outcomes: list[bool] = []
    append = _appender(store, outcomes)
    before = store.transactions
    version, position = await append("s1", 0, [ev(), ev()])
    assert version == 2 and outcomes == [True]
    assert store.transactions == before + 1  # one commit, one fsync for both streams
    audit = await store.read_stream("audit")
    assert [r.event_type for r in audit] == ["Audited"] and audit[0].data == b'{"for":"s1"}'
    own = await store.read_stream("s1")
    # The answer's position covers the rider, so waiting for it makes the record visible too.
    assert position == audit[0].position == own[-1].position + 1

    # Concurrent appends batch together; every rider lands behind its own append.
    await asyncio.gather(*(append(f"c{i}", None, [ev()]) for i in range(20)))
    assert len(await store.read_stream("audit")) == 21 and outcomes.count(True) == 21
    assert await append("skip", None, [ev()])
    assert len(await store.read_stream("audit")) == 21


async def test_a_rejected_append_writes_no_rider(store: SqlEventStore) -> None:
    outcomes: list[bool] = []
    append = _appender(store, outcomes)
    await append("s1", 0, [ev()])
    with pytest.raises(ConcurrencyError):
        await append("s1", 0, [ev()])
    assert outcomes == [True, False]
    assert len(await store.read_stream("audit")) == 1
    # The slow path (a batch that failed as a whole is retried one by one) keeps riders too.
    dup = ev("dup-1")
    await append("s2", None, [dup])
    results = await asyncio.gather(append("s3", None, [ev("dup-1")]), append("s4", None, [ev()]),
                                   return_exceptions=True)
    assert isinstance(results[0], Exception) and not isinstance(results[1], Exception)
    streams = [r.data for r in await store.read_stream("audit")]
    assert b'{"for":"s4"}' in streams and b'{"for":"s3"}' not in streams
