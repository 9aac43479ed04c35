"""What the log features need from the event store beyond the ``EventStore`` port."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import msgspec

from hangar.app.ports import RecordedEvent

MAX_PAGE = 1000


class EventQuery(msgspec.Struct, frozen=True, kw_only=True):
    """Events with ``position > after`` (and ``<= up_to`` when given), oldest first.

    Store-side filters: stream, stream prefix, types, recorded time range. Metadata filters
    (correlation id, principal) are applied by ``matches`` on the decoded metadata.
    """

    after: int = 0
    limit: int = 100
    up_to: int | None = None
    stream_id: str | None = None
    stream_prefix: str | None = None
    event_types: tuple[str, ...] = ()
    since: float | None = None
    until: float | None = None
    correlation_id: str | None = None
    principal: str | None = None

    @property
    def filters_metadata(self) -> bool:
        return self.correlation_id is not None or self.principal is not None


class StreamInfo(msgspec.Struct, frozen=True):
    stream_id: str
    version: int
    event_count: int
    snapshot_version: int | None
    first_position: int | None
    last_position: int | None


class LogStore(Protocol):
    async def read_events(self, query: EventQuery) -> list[RecordedEvent]:
        """Events matching the store-side filters of ``query``, at most ``query.limit``."""
        ...

    async def read_frame_rows(self, query: EventQuery) -> Sequence[Sequence[Any]]:
        """``read_events`` as bare rows of ``hangar.app.log.query.FRAME_COLUMNS``: what a page needs,
        without building a ``RecordedEvent`` per row (the events API's hot path)."""
        ...

    async def stream_info(self, stream_id: str) -> StreamInfo: ...

    async def position_at(self, moment: float) -> int:
        """The last position recorded at or before ``moment`` (0 when none)."""
        ...

    async def read_all(self, from_position: int = 0, limit: int = 1000) -> list[RecordedEvent]: ...

    async def read_stream(
        self, stream_id: str, from_version: int = 0, limit: int | None = None
    ) -> list[RecordedEvent]: ...

    async def last_position(self) -> int: ...

    async def checkpoint_positions(self, fmt: str) -> list[int]: ...

    async def load_checkpoint(self, position: int, fmt: str) -> bytes | None: ...

    async def save_checkpoint(self, position: int, fmt: str, recorded_at: float, state: bytes) -> None: ...
