"""Operations: configuration reloads, alerts: domain events, registered in EVENT_TYPES."""

from __future__ import annotations

from hangar.domain.event_base import Event

OPS_EVENTS: tuple[type[Event], ...] = ()
