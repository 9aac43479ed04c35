"""Discovery sources and candidates: domain events (registered in ``hangar.domain.events.EVENT_TYPES``).

A candidate is a provider definition a source found. Its life on the source's stream
(``discovery:{source_id}``): discovered (waits in pending) or quarantined (invalid, with the
reasons), then approved (registered as a provider through the normal command) or rejected
(remembered by fingerprint, so an unchanged definition is not proposed again), and lost when a
later scan no longer finds it.
"""

from __future__ import annotations

from typing import Any

import msgspec

from hangar.domain.event_base import Event


class Candidate(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A provider definition as a source found it; not yet trusted."""

    name: str
    mode: str = ""
    command: list[str] | None = None
    image: str | None = None
    endpoint: str | None = None
    env: dict[str, str] = {}
    description: str | None = None
    options: dict[str, Any] = {}
    """Further ``ProviderSpec`` fields (idle_ttl_s, volumes, network, read_only, tools, ...)."""
    metadata: dict[str, Any] = {}
    origin: str = ""
    """Where it was found: a file, an entry point, a container, a pod."""
    errors: list[str] = []
    """Problems met while reading the definition (bad YAML, unknown keys); they quarantine it."""


class DiscoverySourceRegistered(Event, frozen=True):
    source_id: str
    source_type: str
    mode: str
    enabled: bool
    config: dict[str, Any]


class DiscoverySourceUpdated(Event, frozen=True):
    source_id: str
    mode: str
    enabled: bool
    config: dict[str, Any]
    changed: list[str]


class DiscoverySourceDeregistered(Event, frozen=True):
    source_id: str


class DiscoveryScanCompleted(Event, frozen=True):
    source_id: str
    providers_found: int
    error: str | None = None
    duration_ms: float = 0.0


class ProviderDiscovered(Event, frozen=True):
    """A valid candidate now waits in pending for an operator's decision."""

    source_id: str
    name: str
    fingerprint: str
    candidate: Candidate


class ProviderQuarantined(Event, frozen=True):
    source_id: str
    name: str
    fingerprint: str
    candidate: Candidate
    reasons: list[str]


class ProviderApproved(Event, frozen=True):
    """The candidate was registered as provider ``provider_id``; this source now owns it."""

    source_id: str
    name: str
    fingerprint: str
    provider_id: str
    automatic: bool = False


class ProviderRejected(Event, frozen=True):
    source_id: str
    name: str
    fingerprint: str
    reason: str = ""


class DiscoveredProviderLost(Event, frozen=True):
    """A later scan no longer found the candidate; ``deregistered`` when the source was
    authoritative and removed the provider it had registered."""

    source_id: str
    name: str
    deregistered: bool = False


DISCOVERY_EVENTS: tuple[type[Event], ...] = (
    DiscoverySourceRegistered,
    DiscoverySourceUpdated,
    DiscoverySourceDeregistered,
    DiscoveryScanCompleted,
    ProviderDiscovered,
    ProviderQuarantined,
    ProviderApproved,
    ProviderRejected,
    DiscoveredProviderLost,
)
