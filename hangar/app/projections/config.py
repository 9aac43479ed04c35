"""Which ids the applied configuration manages, and the reload counters."""

from __future__ import annotations

from typing import Any

from hangar.app.ports import RecordedEvent
from hangar.domain.event_base import Event
from hangar.domain.ops_events import ConfigurationReloaded, ConfigurationReloadFailed


class ConfigProjection:
    """Which ids the applied configuration manages, and the reload history counters."""

    def __init__(self) -> None:
        self.managed: dict[str, list[str]] = {}
        self.last: ConfigurationReloaded | None = None
        self.reloads = 0
        self.failures = 0

    def apply(self, rec: RecordedEvent, event: Event) -> None:
        if isinstance(event, ConfigurationReloaded):
            self.managed = {k: list(v) for k, v in event.managed.items()}
            self.last = event
            self.reloads += 1
        elif isinstance(event, ConfigurationReloadFailed):
            self.failures += 1

    def dump(self) -> Any:
        return {"managed": self.managed, "reloads": self.reloads, "failures": self.failures}
