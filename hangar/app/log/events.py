"""Paging the log, and following it from any position with no gap and no duplicate."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import msgspec

from hangar.app.log.ports import MAX_PAGE, EventQuery, LogStore, StreamInfo
from hangar.app.log.query import frame_rows, matches, public_frame
from hangar.app.ports import RecordedEvent
from hangar.app.projector import Projector
from hangar.domain.events import Event

# A filter on metadata cannot run in SQL, so one page may read more rows than it returns;
# this caps the rows one request reads, and the cursor lets the client go on from there.
SCAN_BUDGET = 20_000
CATCH_UP_PAGE = 1000


class Page(msgspec.Struct, frozen=True):
    frames: list[bytes]
    last_position: int
    """The last position this page examined: where the next page (or a follower) starts."""
    has_more: bool


class _LiveQueue:
    """A projector listener buffering the events committed while a follower is attached."""

    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[RecordedEvent] = asyncio.Queue(maxsize=size)
        self.overflowed = False

    def __call__(self, rec: RecordedEvent, event: Event) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(rec)
        except asyncio.QueueFull:
            # The follower is reading slower than events arrive: it goes back to the store,
            # which has every event, instead of this buffer growing without end.
            self.overflowed = True


class EventLog:
    def __init__(self, store: LogStore, projector: Projector, live_queue_size: int = 1000) -> None:
        self._store = store
        self._projector = projector
        self._queue_size = live_queue_size

    async def page(self, q: EventQuery, visible: Callable[[str], bool] | None = None) -> Page:
        """``visible``: the streams the reader may see (None: all); the others are skipped."""
        limit = min(max(q.limit, 1), MAX_PAGE)
        if q.filters_metadata:
            return await self._filtered_page(q, limit, visible)
        frames: list[bytes] = []
        after, scanned = q.after, 0
        while True:
            # Bare rows framed straight from their stored bytes: the events API's hot path (see
            # docs/performance.md). The store applied every filter; hidden types are left out here.
            batch = await self._store.read_frame_rows(msgspec.structs.replace(q, after=after, limit=limit))
            last = frame_rows(batch, frames, limit, visible)
            after = after if last is None else last
            scanned += len(batch)
            exhausted = len(batch) < limit
            if len(frames) == limit or exhausted or scanned >= SCAN_BUDGET:
                return Page(frames, after, not exhausted or len(frames) == limit)

    async def _filtered_page(self, q: EventQuery, limit: int, visible: Callable[[str], bool] | None) -> Page:
        """A page filtered on metadata too: each row is decoded as a ``RecordedEvent`` to match."""
        frames: list[bytes] = []
        after, scanned = q.after, 0
        while True:
            batch = await self._store.read_events(msgspec.structs.replace(q, after=after, limit=limit))
            for rec in batch:
                after = rec.position
                if matches(q, rec) and (visible is None or visible(rec.stream_id)):
                    frames.append(public_frame(rec))
                    if len(frames) == limit:
                        break
            scanned += len(batch)
            exhausted = len(batch) < limit
            if len(frames) == limit or exhausted or scanned >= SCAN_BUDGET:
                return Page(frames, after, not exhausted or len(frames) == limit)

    async def stream_info(self, stream_id: str) -> StreamInfo:
        return await self._store.stream_info(stream_id)

    async def last_position(self) -> int:
        return await self._store.last_position()

    async def follow(
        self, q: EventQuery, visible: Callable[[str], bool] | None = None
    ) -> AsyncIterator[RecordedEvent]:
        """Every matching event after ``q.after``: stored ones first, then live ones.

        The live listener is attached *before* the store is read, so an event is either already
        stored when the catch-up reads (and maybe queued too: skipped by position) or applied
        after the listener is attached (queued). Nothing falls between the two, and positions
        only grow, so comparing with the last position sent removes every duplicate.
        """
        after = q.after
        while True:
            live = _LiveQueue(self._queue_size)
            self._projector.add_listener(live)
            try:
                while True:
                    batch = await self._store.read_events(
                        msgspec.structs.replace(q, after=after, limit=CATCH_UP_PAGE, up_to=None)
                    )
                    for rec in batch:
                        after = rec.position
                        if matches(q, rec) and (visible is None or visible(rec.stream_id)):
                            yield rec
                    if len(batch) < CATCH_UP_PAGE:
                        break
                while not live.overflowed:
                    try:
                        rec = await asyncio.wait_for(live.queue.get(), 0.5)
                    except TimeoutError:
                        continue
                    if rec.position <= after:
                        continue
                    after = rec.position
                    if matches(q, rec) and (visible is None or visible(rec.stream_id)):
                        yield rec
            finally:
                self._projector.remove_listener(live)
