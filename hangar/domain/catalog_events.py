"""Catalog entries: domain events (registered in ``hangar.domain.events.EVENT_TYPES``)."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from hangar.domain.event_base import Event


class EnvVar(msgspec.Struct, frozen=True, kw_only=True):
    """An environment variable a server needs; a secret one's value is never shown back."""

    name: str
    description: str = ""
    required: bool = False
    secret: bool = False
    default: str | None = None


class CatalogEntryData(msgspec.Struct, frozen=True, kw_only=True):
    """A template for a provider: what to run, and what it needs to be given."""

    name: str
    description: str
    mode: Literal["subprocess", "docker", "remote"] | None = None
    command: list[str] | None = None
    args: list[str] = []
    image: str | None = None
    endpoint: str | None = None
    env: dict[str, str] = {}
    env_vars: list[EnvVar] = []
    tags: list[str] = []
    tools: list[str] = []
    transport: str | None = None
    repository_url: str | None = None
    version: str | None = None
    source: str = "custom"
    """Where it came from: custom (added over the API), hangar, toolhive, mcp-registry."""
    verified: bool = False
    metadata: dict[str, Any] = {}


class CatalogEntryAdded(Event, frozen=True):
    entry_id: str
    entry: CatalogEntryData


class CatalogEntryUpdated(Event, frozen=True):
    entry_id: str
    entry: CatalogEntryData


class CatalogEntryRemoved(Event, frozen=True):
    entry_id: str
    name: str


class CatalogEntryDeployed(Event, frozen=True):
    entry_id: str
    provider_id: str


CATALOG_EVENTS: tuple[type[Event], ...] = (
    CatalogEntryAdded,
    CatalogEntryUpdated,
    CatalogEntryRemoved,
    CatalogEntryDeployed,
)
