"""What a reader of the log may ask for, and how a stored event is shown to it.

Shared by ``GET /api/events``, the resumable WebSocket and Server-Sent Events streams, so one
filter means the same thing everywhere and every surface shows an event the same way.
"""

from __future__ import annotations

import re

from hangar.app import codec
from hangar.app.log.ports import EventQuery
from hangar.app.ports import RecordedEvent

# Key digests are recorded in ``ApiKeyCreated`` but never shown; command audit records are
# served by ``/api/observability/audit``. The same rule the WebSocket guard applies to frames.
HIDDEN_TYPES = frozenset({"CommandAudited"})
_DIGEST_FIELD = re.compile(rb',"key_hash":"[0-9a-f]*"')


def matches(q: EventQuery, rec: RecordedEvent) -> bool:
    """The whole filter in Python: the live path, and the metadata part of the stored path."""
    if rec.event_type in HIDDEN_TYPES:
        return False
    if q.stream_id is not None and rec.stream_id != q.stream_id:
        return False
    if q.stream_prefix is not None and not rec.stream_id.startswith(q.stream_prefix):
        return False
    if q.event_types and rec.event_type not in q.event_types:
        return False
    if q.since is not None and rec.recorded_at < q.since:
        return False
    if q.until is not None and rec.recorded_at > q.until:
        return False
    if q.filters_metadata:
        meta = codec.decode_metadata(rec)
        if q.correlation_id is not None and meta.correlation_id != q.correlation_id:
            return False
        if q.principal is not None and meta.principal != q.principal:
            return False
    return True


def public_frame(rec: RecordedEvent) -> bytes:
    """The flat frame of ``/api/ws/events`` plus who asked for it (metadata), digests removed.

    Secrets in definitions are sealed before they are recorded, so the stored bytes carry
    ciphertext only; the one recorded value that must still be dropped is the key digest.
    """
    frame = codec.frame(rec)
    if rec.event_type == "ApiKeyCreated":
        frame = _DIGEST_FIELD.sub(b"", frame)
    meta = rec.metadata
    if len(meta) > 2:
        frame = frame[:-1] + b',"metadata":' + meta + b"}"
    return frame
