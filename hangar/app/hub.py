"""Fan-out of committed events to live clients (WebSockets), never blocking the projector."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from hangar.app import codec
from hangar.app.ports import RecordedEvent
from hangar.domain.events import Event


class Subscriber:
    """One live client: a bounded queue of encoded frames plus its filter."""

    def __init__(
        self, queue_size: int, event_types: Iterable[str] | None = None,
        provider_ids: Iterable[str] | None = None,
    ) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=queue_size)
        self.overflowed = asyncio.Event()
        self.fixed_types = frozenset(event_types) if event_types is not None else None
        self.event_types: frozenset[str] | None = self.fixed_types
        self.provider_ids: frozenset[str] | None = (
            frozenset(provider_ids) if provider_ids is not None else None
        )

    def set_filter(self, event_types: list[str] | None, provider_ids: list[str] | None) -> None:
        types = frozenset(event_types) if event_types else None
        # A stream with a fixed type set (``/api/ws/state``) can only be narrowed further.
        if self.fixed_types is not None:
            types = self.fixed_types if types is None else types & self.fixed_types
        self.event_types = types
        self.provider_ids = frozenset(provider_ids) if provider_ids else None

    def wants(self, event_type: str, provider_id: str | None) -> bool:
        if self.event_types is not None and event_type not in self.event_types:
            return False
        return self.provider_ids is None or provider_id in self.provider_ids

    def offer(self, frame: bytes) -> bool:
        if self.overflowed.is_set():
            return False
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            # A client that cannot keep up is dropped rather than waited on: waiting would
            # slow every other client and the projector, and buffering would grow without end.
            self.overflowed.set()
            return False
        return True


class EventHub:
    def __init__(self, queue_size: int = 1000) -> None:
        self.queue_size = queue_size
        self.subscribers: set[Subscriber] = set()
        self.dropped_clients = 0
        self.frames_sent = 0

    def subscribe(
        self, event_types: Iterable[str] | None = None, provider_ids: Iterable[str] | None = None
    ) -> Subscriber:
        sub = Subscriber(self.queue_size, event_types, provider_ids)
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)

    def __call__(self, rec: RecordedEvent, event: Event) -> None:
        if not self.subscribers:
            return
        provider_id: str | None = getattr(event, "provider_id", None)
        frame: bytes | None = None
        for sub in tuple(self.subscribers):
            if not sub.wants(rec.event_type, provider_id):
                continue
            if frame is None:
                frame = codec.frame(rec)
            if sub.offer(frame):
                self.frames_sent += 1
            elif sub.overflowed.is_set():
                self.subscribers.discard(sub)
                self.dropped_clients += 1
