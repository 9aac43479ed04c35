"""What a provider offers besides tools, learned over MCP (resources, templates, prompts).

Kept as the provider's own JSON objects: Hangar passes them through to MCP clients and only
rewrites their names and URIs on the way out.
"""

from __future__ import annotations

from typing import Any

from hangar.domain.event_base import Event


class ProviderOfferingsDiscovered(Event, frozen=True):
    provider_id: str
    resources: list[dict[str, Any]] = []
    resource_templates: list[dict[str, Any]] = []
    prompts: list[dict[str, Any]] = []


MCP_EVENTS: tuple[type[Event], ...] = (ProviderOfferingsDiscovered,)


def offerings_stream_id(provider_id: str) -> str:
    return f"offerings:{provider_id}"
