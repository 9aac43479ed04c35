"""The configuration in force while Hangar runs."""

from __future__ import annotations

from hangar.config.schema import HangarConfig


class LiveConfig:
    """Replaced whole by a reload (``ConfigSync`` is its only writer); whoever needs the value
    in force at the moment of use (alert thresholds, the export) reads ``current``."""

    def __init__(self, config: HangarConfig, path: str | None = None) -> None:
        self.current = config
        self.path = path
