"""Encoding domain events for the store, and decoding them back.

Events are encoded once, at append; the bytes stored are the flat tagged JSON of the event, so
a WebSocket frame is built by splicing the envelope fields in front of those bytes, with no
decode and re-encode per client.
"""

from __future__ import annotations

import os
import time
import uuid
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import msgspec

from hangar.app import units
from hangar.app.ports import EventStore, NewEvent, RecordedEvent
from hangar.domain.events import DomainEvent, Event

_encoder = msgspec.json.Encoder()
_decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(DomainEvent)


class EventMetadata(msgspec.Struct, frozen=True, omit_defaults=True):
    correlation_id: str | None = None
    causation_id: str | None = None
    principal: str | None = None
    instance: str | None = None
    trace_id: str | None = None
    """The OpenTelemetry trace of the command that recorded the event, when there is one."""
    fencing: int | None = None
    """Generation of the leader lease under which the cluster leader wrote this."""


_meta_decoder = msgspec.json.Decoder(EventMetadata)


def new_id() -> str:
    """A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then randomness.

    Time-ordered ids keep inserts into the unique ``event_id`` index near its right-hand edge
    instead of scattering them over the whole B-tree, which on SQLite roughly doubles the
    append rate of a batch.
    """
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & 0xFFFF_FFFF_FFFF) << 80 | rand
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return str(uuid.UUID(int=value))


def encode(event: Event, metadata: EventMetadata, event_id: str | None = None) -> NewEvent:
    return NewEvent(
        event_id=event_id or new_id(),
        event_type=type(event).__name__,
        data=_encoder.encode(event),
        metadata=_encoder.encode(metadata),
    )


def decode(recorded: RecordedEvent) -> Event:
    event: Event = _decoder.decode(recorded.data)
    return event


def decode_metadata(recorded: RecordedEvent) -> EventMetadata:
    return _meta_decoder.decode(recorded.metadata)


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


class _FrameHead(msgspec.Struct):
    """The envelope of a frame, in this field order (a Struct encodes faster than a dict)."""

    event_id: str
    stream_id: str
    position: int
    recorded_at: str
    occurred_at: float


# The events of one group commit share their commit time, so consecutive frames mostly format
# the same moment; formatting it is the costliest part of a frame when the log is paged.
_frame_time = lru_cache(maxsize=256)(iso)


def frame(recorded: RecordedEvent) -> bytes:
    """The flat WebSocket frame: envelope fields, then the event's own fields."""
    ts = recorded.recorded_at
    head = _encoder.encode(
        _FrameHead(recorded.event_id, recorded.stream_id, recorded.position, _frame_time(ts), ts)
    )
    data = recorded.data
    if len(data) <= 2:  # an event with no fields beyond its tag cannot occur, but stay valid
        return head
    return head[:-1] + b"," + data[1:]


def now() -> float:
    return time.time()


async def append_one(store: EventStore, stream_id: str, event: Event, metadata: EventMetadata) -> tuple[int, int]:
    """Append one event to a stream with no expected version (streams that only record facts:
    calls, audit, security, config, maintenance); returns the stream version and position."""
    return await units.append(store, stream_id, None, [encode(event, metadata)])
