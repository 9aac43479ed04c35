"""Which streams exist, and at which version, as far as the projector has seen."""

from __future__ import annotations

from typing import Any

from hangar.app.ports import RecordedEvent, Snapshot
from hangar.domain.events import Event


class StreamIndex:
    """A hint, never the truth: it lets the repository skip the database for a stream that has
    never been written (every create), while the append's expected version (0) still guards
    against another writer having created it meanwhile."""

    records_only = True
    """Reads the record, never the event: a rebuild need not decode for it."""

    def __init__(self) -> None:
        self.versions: dict[str, int] = {}

    def version(self, stream_id: str) -> int:
        return self.versions.get(stream_id, 0)

    def apply(self, rec: RecordedEvent, event: Event | None) -> None:
        self.versions[rec.stream_id] = rec.stream_version

    def seed(self, snap: Snapshot) -> None:
        self.versions[snap.stream_id] = max(self.versions.get(snap.stream_id, 0), snap.version)

    def dump(self) -> Any:
        return dict(sorted(self.versions.items()))
