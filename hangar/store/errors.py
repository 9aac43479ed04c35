"""Errors the store raises beyond the domain's ConcurrencyError / NoSnapshotError."""

from __future__ import annotations

from collections.abc import Sequence

from hangar.domain.errors import ConcurrencyError


class DuplicateEventError(ConcurrencyError):
    """Some, but not all, of the event ids are already stored, or stored in another stream.

    A subclass of ``ConcurrencyError`` so the API maps it to 409 Conflict without knowing it.
    """

    def __init__(self, stream_id: str, event_ids: Sequence[str], actual: int) -> None:
        super().__init__(stream_id, None, actual)
        self.message = f"Event ids {list(event_ids)!r} for stream '{stream_id}' clash with stored events"
        self.args = (self.message,)


class StoreClosedError(RuntimeError):
    """The store is not started, or already closed."""
