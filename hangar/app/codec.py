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


json_bytes = msgspec.json.encode
# Stream ids repeat from frame to frame (a page of the log touches a few streams).
stream_json = lru_cache(maxsize=4096)(json_bytes)


@lru_cache(maxsize=1024)
def time_json(ts: float) -> bytes:
    """The two envelope fields derived from the commit time. The events of one group commit
    share it, so consecutive frames mostly repeat one moment; formatting it (an RFC 3339 string
    and the float) is the costliest part of a frame, hence cached."""
    return b'%b,"occurred_at":%b' % (json_bytes(iso(ts)), json_bytes(ts))


FRAME_HEAD = b'{"event_id":%b,"stream_id":%b,"position":%d,"recorded_at":%b%b%b'
"""A frame up to the event's own fields, formatted from (``json_bytes(event_id)``,
``stream_json(stream_id)``, position, ``time_json(recorded_at)``, ``b","`` (``b""`` when the
event has no fields), the stored event bytes without their braces). Whatever follows ends it."""
FRAME = FRAME_HEAD + b"%b}"


def frame_from(position: int, stream_id: str, event_id: str, data: bytes, recorded_at: float,
               extra: bytes = b"") -> bytes:
    """One frame in a single format call from a stored row's columns: the stored event bytes are
    spliced in, never decoded. ``extra`` (``,"name":value`` pairs) goes after the event's
    fields. Strings go through msgspec, so any stream or event id is escaped as JSON."""
    # An event with no field beyond its tag cannot occur, but ``{}`` still gives a valid frame.
    return FRAME % (json_bytes(event_id), stream_json(stream_id), position, time_json(recorded_at),
                    b"," if len(data) > 2 else b"", data[1:-1], extra)


def frame(recorded: RecordedEvent) -> bytes:
    """The flat WebSocket frame: envelope fields, then the event's own fields."""
    return frame_from(recorded.position, recorded.stream_id, recorded.event_id, recorded.data, recorded.recorded_at)


def now() -> float:
    return time.time()


async def append_one(store: EventStore, stream_id: str, event: Event, metadata: EventMetadata) -> tuple[int, int]:
    """Append one event to a stream with no expected version (streams that only record facts:
    calls, audit, security, config, maintenance); returns the stream version and position."""
    return await units.append(store, stream_id, None, [encode(event, metadata)])
