"""The store's reads for the events API and time travel, on every backend."""

from __future__ import annotations

import uuid

from hangar.app.log.ports import EventQuery
from hangar.app.log.query import FRAME_COLUMNS
from hangar.store import SqlEventStore
from tests.store.conftest import ev


async def test_read_events_filters_and_stream_info(store: SqlEventStore) -> None:
    tag = uuid.uuid4().hex[:6]
    await store.append(f"provider:{tag}", 0, [ev(event_type="A"), ev(event_type="B")])
    await store.append(f"providers:{tag}", 0, [ev(event_type="A")])  # not under "provider:"
    await store.append(f"calls:{tag}", None, [ev(event_type="C"), ev(event_type="A")])
    everything = await store.read_all(0, 100)
    first = everything[0].position

    def positions(q: EventQuery) -> list[int]:
        return [r.position for r in recs[q]]

    queries = {
        "all": EventQuery(after=0, limit=100),
        "prefix": EventQuery(after=0, limit=100, stream_prefix="provider:"),
        "types": EventQuery(after=0, limit=100, event_types=("A", "C")),
        "stream": EventQuery(after=0, limit=100, stream_id=f"calls:{tag}"),
        "range": EventQuery(after=first, up_to=first + 2, limit=100),
        "limit": EventQuery(after=0, limit=2),
    }
    recs = {q: await store.read_events(q) for q in queries.values()}
    assert positions(queries["all"]) == [r.position for r in everything]
    assert [r.stream_id for r in recs[queries["prefix"]]] == [f"provider:{tag}"] * 2
    assert [r.event_type for r in recs[queries["types"]]] == ["A", "A", "C", "A"]
    assert [r.event_type for r in recs[queries["stream"]]] == ["C", "A"]
    assert positions(queries["range"]) == [first + 1, first + 2]
    assert len(recs[queries["limit"]]) == 2
    # The bare rows a page is framed from: the same events, the frame's columns, on every shape
    # (each shape's statement is compiled once and reused with other values).
    again = {**queries, "types2": EventQuery(after=0, limit=100, event_types=("B", "C")),
             "prefix2": EventQuery(after=0, limit=100, stream_prefix="calls:")}
    for q in again.values():
        expected = [tuple(getattr(r, c) for c in FRAME_COLUMNS) for r in await store.read_events(q)]
        assert [tuple(row) for row in await store.read_frame_rows(q)] == expected
        assert expected
    moment = everything[2].recorded_at
    timed = await store.read_events(EventQuery(after=0, limit=100, since=moment, until=moment))
    assert everything[2].position in [r.position for r in timed]
    assert await store.position_at(everything[-1].recorded_at + 1) == everything[-1].position
    assert await store.position_at(0.0) == 0

    info = await store.stream_info(f"provider:{tag}")
    assert (info.version, info.event_count, info.snapshot_version) == (2, 2, None)
    assert (info.first_position, info.last_position) == (everything[0].position, everything[1].position)
    missing = await store.stream_info(f"provider:none-{tag}")
    assert (missing.version, missing.event_count, missing.first_position) == (0, 0, None)


async def test_checkpoints_are_kept_once_per_position_and_format(store: SqlEventStore) -> None:
    base = 10**9 + uuid.uuid4().int % 10**6 * 10
    await store.save_checkpoint(base, "f1", 1.0, b"one")
    await store.save_checkpoint(base, "f1", 2.0, b"again")  # the first copy stays
    await store.save_checkpoint(base + 5, "f1", 1.0, b"two")
    assert [p for p in await store.checkpoint_positions("f1") if p >= base] == [base, base + 5]
    assert await store.load_checkpoint(base, "f1") == b"one"
    assert await store.load_checkpoint(base, "other-format") is None
    assert [p for p in await store.checkpoint_positions("other-format") if p >= base] == []


async def test_a_checkpoint_in_a_newer_format_replaces_an_older_one(store: SqlEventStore) -> None:
    """After an upgrade changes the read models' format, the replay's new checkpoints land on
    positions the old ones hold: each replaces the old copy and loads back."""
    base = 2 * 10**9 + uuid.uuid4().int % 10**6 * 10
    await store.save_checkpoint(base, "old", 1.0, b"old bytes")
    await store.save_checkpoint(base, "new", 2.0, b"new bytes")
    assert await store.load_checkpoint(base, "new") == b"new bytes"
    assert await store.load_checkpoint(base, "old") is None
    assert base in await store.checkpoint_positions("new")
    assert base not in await store.checkpoint_positions("old")
