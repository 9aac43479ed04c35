"""Keys, roles, assignments, tool policies and security events: domain events, registered in EVENT_TYPES."""

from __future__ import annotations

from hangar.domain.event_base import Event

AUTH_EVENTS: tuple[type[Event], ...] = ()
