"""How a stored event is shown to readers of the log: the page framer, the per-event framer and
the live WebSocket frame agree byte for byte, for any ids and payloads."""

from __future__ import annotations

import json
import random

import msgspec

from hangar.app import codec
from hangar.app.log.query import FRAME_COLUMNS, frame_rows, public_frame, shown_frame
from hangar.app.ports import RecordedEvent
from hangar.domain import events as ev

ODD = ['quote"d', "back\\slash", "ctl\n\t\x00\x1f\x7f", "é€😀", "slash/ed", "", "\u2028"]


def reference_frame(rec: RecordedEvent) -> bytes:
    """The frame spelled out as JSON values: envelope fields, the event's, then metadata."""
    frame = {
        "event_id": rec.event_id, "stream_id": rec.stream_id, "position": rec.position,
        "recorded_at": codec.iso(rec.recorded_at), "occurred_at": rec.recorded_at,
        **json.loads(rec.data),
    }
    frame.pop("key_hash", None)
    if len(rec.metadata) > 2:
        frame["metadata"] = json.loads(rec.metadata)
    return msgspec.json.encode(frame)


def sample(rnd: random.Random, position: int) -> RecordedEvent:
    meta = codec.EventMetadata(principal=rnd.choice(ODD), correlation_id="c")
    data = rnd.choice([
        codec.encode(ev.ProviderStateChanged(provider_id=rnd.choice(ODD), old_state="cold", new_state="ready",
                                             reason=rnd.choice(ODD)), meta).data,
        b'{"event_type":"ApiKeyCreated","key_id":"k1","key_hash":"00ff","name":"n"}',
        b'{"event_type":"Tested","nested":{"a":[1,{"b":"}"}]}}',
        b"{}",
    ])
    event_type = json.loads(data).get("event_type", "Tested") if len(data) > 2 else "Tested"
    at = rnd.choice([rnd.uniform(0, 2e9), float(rnd.randrange(2**31)), 1733349255.1, 0.0, rnd.random()])
    return RecordedEvent(position, rnd.choice(ODD) + f":{position}", 1, rnd.choice(ODD) + str(position), event_type,
                         data, rnd.choice([msgspec.json.encode(meta), b"{}"]),
                         at)


def test_every_framer_gives_the_same_bytes() -> None:
    rnd = random.Random(14)
    recs = [sample(rnd, p) for p in range(1, 2001)]
    for rec in recs:
        frame = public_frame(rec)
        assert frame == reference_frame(rec)
        assert b"00ff" not in frame
        # The live WebSocket frame is the same without metadata (and with the digest).
        live = json.loads(codec.frame(rec))
        shown = json.loads(frame)
        shown.pop("metadata", None)
        live.pop("key_hash", None)
        assert list(live.items()) == list(shown.items())
        if rec.event_type != "ApiKeyCreated" and len(rec.metadata) <= 2:
            assert frame == codec.frame(rec)

    rows = [tuple(getattr(r, c) for c in FRAME_COLUMNS) for r in recs]
    frames: list[bytes] = []
    assert frame_rows(rows, frames, 10_000) == 2000
    assert frames == [public_frame(r) for r in recs]
    assert frames == [shown_frame(*row) for row in rows]


def test_frame_rows_skips_hidden_types_and_stops_at_the_limit() -> None:
    def row(position: int, event_type: str) -> tuple[object, ...]:
        return (position, "s", f"e{position}", event_type, b'{"event_type":"%s"}' % event_type.encode(), b"{}", 1.5)

    rows = [row(1, "A"), row(2, "CommandAudited"), row(3, "B"), row(4, "C"), row(5, "D")]
    frames: list[bytes] = []
    assert frame_rows(rows[:2], frames, 3) == 2  # the hidden row is examined, not shown
    assert frame_rows(rows[2:], frames, 3) == 4  # full at position 4: position 5 is left for later
    assert [json.loads(f)["position"] for f in frames] == [1, 3, 4]
    assert frame_rows([], frames, 3) is None
