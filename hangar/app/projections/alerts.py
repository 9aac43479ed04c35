"""Alert history and the active set (the alerts route's read model)."""

from __future__ import annotations

from collections import deque
from typing import Any

import msgspec

from hangar.app.codec import iso
from hangar.app.ports import RecordedEvent
from hangar.domain.event_base import Event
from hangar.domain.ops_events import AlertRaised, AlertResolved


class AlertRecord(msgspec.Struct, kw_only=True):
    alert_id: str
    rule: str
    level: str
    target: str
    message: str
    state: str
    """``active`` or ``resolved``."""
    raised_at: str
    resolved_at: str | None = None
    resolution: str | None = None
    provider_id: str | None = None
    group_id: str | None = None


class AlertsProjection:
    """Alert history (bounded, newest last) and the active set, for the alerts route."""

    def __init__(self, history_size: int = 1000) -> None:
        self.history: deque[AlertRecord] = deque(maxlen=history_size)
        self.active: dict[str, AlertRecord] = {}

    def apply(self, rec: RecordedEvent, event: Event) -> None:
        if isinstance(event, AlertRaised):
            record = AlertRecord(
                alert_id=event.alert_id, rule=event.rule, level=event.level, target=event.target,
                message=event.message, state="active", raised_at=iso(rec.recorded_at),
                provider_id=event.provider_id, group_id=event.group_id,
            )
            self.active[event.key] = record
            self.history.append(record)
        elif isinstance(event, AlertResolved):
            found = self.active.pop(event.key, None)
            if found is not None:
                found.state = "resolved"
                found.resolved_at = iso(rec.recorded_at)
                found.resolution = event.message

    def active_by_level(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for a in self.active.values():
            counts[a.level] = counts.get(a.level, 0) + 1
        return counts

    def query(
        self, level: str | None = None, state: str | None = None, limit: int = 100
    ) -> tuple[list[AlertRecord], int]:
        """Newest first, with the total before ``limit``."""
        rows = [a for a in reversed(self.history)
                if (level is None or a.level == level) and (state is None or a.state == state)]
        return rows[:limit], len(rows)

    def dump(self) -> Any:
        return {"active": sorted(self.active), "history": [msgspec.to_builtins(a) for a in self.history]}
