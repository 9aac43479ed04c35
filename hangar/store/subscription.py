"""Live delivery: an in-memory tail of recent commits plus wake-ups for waiting subscribers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

from hangar.app.ports import RecordedEvent


class LiveTail:
    """The most recent events committed by this process, as one gap-free run of positions.

    Serving a subscriber from memory is only safe when no position between its checkpoint and
    the event it is handed can exist elsewhere. Keeping the run strictly contiguous (reset when
    a batch does not start right after the previous one, e.g. because another replica wrote in
    between) makes that check a subtraction.
    """

    def __init__(self, capacity: int) -> None:
        self._capacity = max(1, capacity)
        self._events: list[RecordedEvent] = []
        self._first = 0  # position of _events[0]

    def extend(self, batch: list[RecordedEvent]) -> None:
        if not batch:
            return
        if not self._events or batch[0].position != self._first + len(self._events):
            self._events = []
            self._first = batch[0].position
        expected = self._first + len(self._events)
        for offset, ev in enumerate(batch):
            if ev.position != expected + offset:
                # Positions skipped inside a batch (a rolled-back sequence range on PG):
                # keep only what follows the hole.
                self._events = []
                self._first = ev.position
                self.extend(batch[offset:])
                return
        self._events.extend(batch)
        # Trim in bulk: amortised O(1), and slicing a list is cheaper than a deque.
        if len(self._events) > 2 * self._capacity:
            drop = len(self._events) - self._capacity
            del self._events[:drop]
            self._first += drop

    def note_external(self, position: int) -> None:
        """Another process committed up to ``position``: unless that is inside the run we hold
        (our own commit, reported back), forget the run, so that subscribers go to the
        database for what lies between."""
        if position >= self._first + len(self._events):
            self._events = []
            self._first = position + 1

    def after(self, position: int, limit: int) -> list[RecordedEvent] | None:
        """Events after ``position`` if the tail can prove it has all of them, else None."""
        start = position + 1 - self._first
        if not self._events or start < 0 or start > len(self._events):
            return None
        return self._events[start : start + limit]


class Notifier:
    """Wakes every waiting subscriber at once after a commit (a new Event per generation)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def current(self) -> asyncio.Event:
        return self._event

    def notify(self) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()


async def subscription(
    from_position: int,
    *,
    tail: LiveTail,
    notifier: Notifier,
    read_all: Callable[[int, int], Awaitable[list[RecordedEvent]]],
    is_closed: Callable[[], bool],
    page_size: int,
    poll_interval_s: float,
) -> AsyncIterator[RecordedEvent]:
    position = from_position
    # After a quiet poll interval, go to the database even if the tail says we are caught up:
    # another process may have committed events this one has never seen.
    from_db = True
    while not is_closed():
        wake = notifier.current()  # taken before looking, so a commit right after still wakes us
        batch = None if from_db else tail.after(position, page_size)
        if batch is None:
            try:
                batch = await read_all(position, page_size)
            except Exception:
                if is_closed():
                    return
                raise
        from_db = False
        if batch:
            for ev in batch:
                if is_closed():
                    return
                yield ev
                position = ev.position
            continue
        try:
            async with asyncio.timeout(poll_interval_s):
                await wake.wait()
        except TimeoutError:
            from_db = True
