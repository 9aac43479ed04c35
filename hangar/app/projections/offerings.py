"""What each provider offers over MCP besides tools: its last-discovered resources, resource
templates and prompts, rebuilt from the log so they are known while the provider is stopped."""

from __future__ import annotations

from typing import Any

import msgspec

from hangar.app.ports import RecordedEvent
from hangar.domain import events as ev
from hangar.domain.event_base import Event
from hangar.domain.mcp_events import ProviderOfferingsDiscovered


class Offerings(msgspec.Struct, frozen=True):
    resources: list[dict[str, Any]] = []
    resource_templates: list[dict[str, Any]] = []
    prompts: list[dict[str, Any]] = []


class OfferingsProjection:
    def __init__(self) -> None:
        self.views: dict[str, Offerings] = {}

    def get(self, provider_id: str) -> Offerings | None:
        return self.views.get(provider_id)

    def apply(self, rec: RecordedEvent, event: Event) -> None:
        if isinstance(event, ProviderOfferingsDiscovered):
            self.views[event.provider_id] = Offerings(event.resources, event.resource_templates, event.prompts)
        elif isinstance(event, ev.ProviderDeregistered):
            self.views.pop(event.provider_id, None)

    def dump(self) -> Any:
        return {k: msgspec.to_builtins(v) for k, v in sorted(self.views.items())}
