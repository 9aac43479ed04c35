"""The base of every domain event."""

from __future__ import annotations

import msgspec


class Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="event_type", tag=True):
    """Tagged by class name in ``event_type``: the JSON encoding is already the flat frame."""
