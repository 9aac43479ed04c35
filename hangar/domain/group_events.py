"""Groups: domain events (registered in ``hangar.domain.events.EVENT_TYPES``)."""

from __future__ import annotations

from hangar.domain.event_base import Event

GROUP_EVENTS: tuple[type[Event], ...] = ()
