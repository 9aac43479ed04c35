from __future__ import annotations

from typing import Any, Protocol

from hangar.app.ports import RecordedEvent
from hangar.domain.events import Event


class Projection(Protocol):
    def apply(self, rec: RecordedEvent, event: Event) -> None:
        """Fold one event in. Must not block or do I/O: it runs on the projector's task."""

    def dump(self) -> Any:
        """A plain-data image of the read model, to compare a rebuild with the live one."""
