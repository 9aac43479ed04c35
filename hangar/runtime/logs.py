"""Bounded per-provider log buffer with non-blocking live subscriptions.

The stderr reader appends from the event loop and must never wait for anyone: it is what keeps the
child's pipe drained. So the buffer is a fixed-size deque and every subscriber gets its own
bounded queue; a subscriber that falls behind is dropped, not waited on.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable
from datetime import UTC, datetime

import msgspec

log = logging.getLogger("hangar.runtime.logs")

DEFAULT_MAX_ENTRIES = 1000
DEFAULT_SUBSCRIBER_QUEUE = 1000
# Bounds memory per entry too: a provider may print a multi-megabyte blob on one line.
DEFAULT_MAX_LINE_CHARS = 8192


class LogEntry(msgspec.Struct, frozen=True):
    timestamp: str
    """ISO 8601, UTC."""
    line: str
    provider_id: str
    stream: str
    """``stderr``, or ``stdout`` for non-protocol lines a provider printed on its JSON-RPC channel."""


def utc_timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class LogSubscription:
    """Async iterator over new entries; ends after ``close()`` or once it was dropped and drained."""

    def __init__(self, buffer: LogBuffer, maxsize: int) -> None:
        self._buffer = buffer
        self._maxsize = maxsize
        self._items: collections.deque[LogEntry] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None
        self.dropped = False
        self.closed = False

    def _offer(self, entry: LogEntry) -> bool:
        """False when full: the caller drops us instead of growing or waiting."""
        if len(self._items) >= self._maxsize:
            return False
        self._items.append(entry)
        self._wake()
        return True

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _end(self, dropped: bool) -> None:
        self.dropped = self.dropped or dropped
        self.closed = True
        self._wake()

    def close(self) -> None:
        self._buffer._unsubscribe(self)
        self._end(dropped=False)

    def __aiter__(self) -> LogSubscription:
        return self

    async def __anext__(self) -> LogEntry:
        while not self._items:
            if self.closed:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.popleft()


LogListener = Callable[[LogEntry], None]


class LogBuffer:
    """The last ``maxlen`` lines of one provider, plus live fan-out."""

    def __init__(
        self,
        provider_id: str,
        maxlen: int = DEFAULT_MAX_ENTRIES,
        subscriber_queue_size: int = DEFAULT_SUBSCRIBER_QUEUE,
        max_line_chars: int = DEFAULT_MAX_LINE_CHARS,
    ) -> None:
        self.provider_id = provider_id
        self._max_line_chars = max_line_chars
        self._entries: collections.deque[LogEntry] = collections.deque(maxlen=maxlen)
        self._subscriber_queue_size = subscriber_queue_size
        self._subscribers: list[LogSubscription] = []
        self._listeners: list[LogListener] = []
        self.total_lines = 0

    def append(self, line: str, stream: str = "stderr") -> LogEntry:
        if len(line) > self._max_line_chars:
            line = f"{line[: self._max_line_chars]}... [{len(line) - self._max_line_chars} chars truncated]"
        entry = LogEntry(utc_timestamp(), line, self.provider_id, stream)
        self._entries.append(entry)
        self.total_lines += 1
        if self._subscribers:
            for sub in [s for s in self._subscribers if not s._offer(entry)]:
                self._subscribers.remove(sub)
                sub._end(dropped=True)
                log.warning("dropped slow log subscriber of provider %s", self.provider_id)
        if self._listeners:
            for listener in list(self._listeners):
                try:
                    listener(entry)
                except Exception:
                    self._listeners.remove(listener)
                    log.exception("removed failing log listener of provider %s", self.provider_id)
        return entry

    def tail(self, n: int | None = None) -> list[LogEntry]:
        if n is None or n >= len(self._entries):
            return list(self._entries)
        if n <= 0:
            return []
        return list(self._entries)[-n:]

    def last_line(self, stream: str = "stderr") -> str | None:
        for entry in reversed(self._entries):
            if entry.stream == stream:
                return entry.line
        return None

    def subscribe(self, maxsize: int | None = None) -> LogSubscription:
        sub = LogSubscription(self, maxsize or self._subscriber_queue_size)
        self._subscribers.append(sub)
        return sub

    def _unsubscribe(self, sub: LogSubscription) -> None:
        if sub in self._subscribers:
            self._subscribers.remove(sub)

    def add_listener(self, listener: LogListener) -> Callable[[], None]:
        """Synchronous callback per entry; must not block. Returns an unsubscribe function."""
        self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    def close_subscribers(self) -> None:
        for sub in self._subscribers:
            sub._end(dropped=False)
        self._subscribers.clear()

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def __len__(self) -> int:
        return len(self._entries)
