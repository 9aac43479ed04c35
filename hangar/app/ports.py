"""The ports the application layer needs from the outside world.

The event store deals in bytes: encoding and decoding of domain events happens in
``hangar.app.codec`` so that the store stays ignorant of the domain model.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Protocol

import msgspec

from hangar.domain.provider_spec import ProviderSpec, ToolSpec

# ``expected_version`` sentinel: append without an optimistic-concurrency check.
ANY_VERSION: int | None = None
# ``expected_version`` for a stream that must not exist yet.
NO_STREAM = 0


class NewEvent(msgspec.Struct, frozen=True):
    event_id: str
    event_type: str
    data: bytes
    """The event encoded with msgspec JSON (tagged: contains its own ``event_type``)."""
    metadata: bytes = b"{}"
    """JSON object: correlation_id, causation_id, principal, instance."""


class RecordedEvent(msgspec.Struct, frozen=True):
    position: int
    """Global position: strictly increasing in commit order, never reused."""
    stream_id: str
    stream_version: int
    """1 for the first event of a stream."""
    event_id: str
    event_type: str
    data: bytes
    metadata: bytes
    recorded_at: float
    """Unix time (seconds) at which the event was committed."""


class Snapshot(msgspec.Struct, frozen=True):
    stream_id: str
    version: int
    state: bytes


class EventStore(Protocol):
    async def start(self) -> None:
        """Open connections and start the group-commit writer."""

    async def close(self) -> None:
        """Flush pending appends and release every connection."""

    async def append(
        self, stream_id: str, expected_version: int | None, events: Sequence[NewEvent], *,
        rider: tuple[str, tuple[NewEvent, ...]] | None = None,
    ) -> tuple[int, int]:
        """Append atomically; returns ``(new_stream_version, last_global_position)``.

        ``expected_version`` is the stream's current version (0 for a new stream) or
        ``None`` to skip the check. Raises ``ConcurrencyError`` on mismatch. Appending
        events whose ids are already stored in that stream succeeds without writing
        (a retried request). ``rider``: events for another stream (no version check) written
        in the same transaction, only if these are accepted; the position answered covers them.
        """
        ...

    async def read_stream(
        self, stream_id: str, from_version: int = 0, limit: int | None = None
    ) -> list[RecordedEvent]:
        """Events of one stream with ``stream_version > from_version``, in order."""
        ...

    async def count_stream(self, stream_id: str, from_version: int = 0) -> int: ...

    async def stream_version(self, stream_id: str) -> int:
        """Current version of a stream (0 when it has no events)."""
        ...

    async def read_all(self, from_position: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        """Events with ``position > from_position`` in commit order."""
        ...

    async def last_position(self) -> int: ...

    async def save_snapshot(self, snapshot: Snapshot) -> None: ...

    async def load_snapshot(self, stream_id: str) -> Snapshot | None: ...

    async def compact(self, stream_id: str) -> int:
        """Delete the stream's events at or before its latest snapshot; returns how many.

        Raises ``NoSnapshotError`` when the stream has no snapshot.
        """
        ...

    def subscribe(self, from_position: int = 0) -> AsyncIterator[RecordedEvent]:
        """Every event after ``from_position``: catch-up first, then live, in commit order."""
        ...


# --- the runtime port ---------------------------------------------------------------------------


class CallOutcome(msgspec.Struct, frozen=True):
    content: list[dict[str, Any]]
    is_error: bool = False
    structured_content: dict[str, Any] | None = None


class ServerIdentity(msgspec.Struct, frozen=True):
    name: str = ""
    version: str = ""


class LogLine(Protocol):
    timestamp: str
    line: str
    provider_id: str
    stream: str


class LogSource(Protocol):
    def tail(self, n: int | None = None) -> Sequence[Any]: ...

    def subscribe(self, maxsize: int | None = None) -> AsyncIterator[Any]: ...


class ProviderConnection(Protocol):
    """One live connection to a provider. Every failure is raised as a domain error:
    ``ProviderUnavailableError`` (cannot start/reach), ``ProviderError`` (crashed, protocol or
    JSON-RPC error), ``ProviderTimeoutError`` (no answer in time), ``ValidationError`` (the
    provider rejected the arguments)."""

    @property
    def alive(self) -> bool: ...

    async def start(self) -> ServerIdentity: ...

    async def list_tools(self) -> list[ToolSpec]: ...

    async def call_tool(self, name: str, arguments: dict[str, Any], timeout_s: float) -> CallOutcome: ...

    async def ping(self, timeout_s: float) -> float: ...

    async def close(self) -> None: ...


class ProviderConnector(Protocol):
    """Makes connections for provider definitions (subprocess, docker, remote)."""

    def connect(
        self,
        provider_id: str,
        spec: ProviderSpec,
        on_exit: Callable[[str], None],
        on_tools_changed: Callable[[], None],
    ) -> ProviderConnection:
        """``on_exit(reason)`` fires when the provider goes away on its own (not on close)."""
        ...

    def logs(self, provider_id: str) -> LogSource: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...
