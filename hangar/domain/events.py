"""Every domain event Hangar records, in one registry.

Each event is a frozen msgspec Struct tagged by its class name in the field ``event_type``, so
its JSON encoding is already the flat frame dashboards read (``{"event_type": ..., fields...}``)
and the tagged union ``DomainEvent`` decodes anything ever written. An event type missing from
``EVENT_TYPES`` could not be read back after a restart, silently losing state; the round-trip
test in ``tests/domain`` writes one of each to guard that.
"""

from __future__ import annotations

from typing import Any, Union

import msgspec

from hangar.domain.provider_spec import ProviderSpec, ToolSpec


class Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="event_type", tag=True):
    """Base of all domain events."""


# --- provider definition -------------------------------------------------------------------


class ProviderRegistered(Event):
    provider_id: str
    spec: ProviderSpec


class ProviderUpdated(Event):
    provider_id: str
    spec: ProviderSpec
    changed: list[str]


class ProviderDeregistered(Event):
    provider_id: str


# --- provider lifecycle (runtime facts) -----------------------------------------------------


class ProviderStateChanged(Event):
    provider_id: str
    old_state: str
    new_state: str
    reason: str = ""


class ProviderStarted(Event):
    provider_id: str
    startup_duration_ms: float
    tools_count: int
    tools: list[ToolSpec] = []
    server_name: str = ""
    server_version: str = ""


class ProviderStartFailed(Event):
    provider_id: str
    error: str
    attempt: int = 1


class ProviderStopped(Event):
    provider_id: str
    reason: str


class ProviderToolsChanged(Event):
    provider_id: str
    tools: list[ToolSpec]


class HealthCheckPassed(Event):
    provider_id: str
    duration_ms: float


class HealthCheckFailed(Event):
    provider_id: str
    error: str
    consecutive_failures: int


class CircuitBreakerStateChanged(Event):
    provider_id: str
    old_state: str
    new_state: str
    reason: str = ""


# --- tool invocations (stream ``calls:{provider_id}``) --------------------------------------


class ToolInvocationRequested(Event):
    provider_id: str
    tool_name: str
    call_id: str
    arguments_size: int
    group_id: str | None = None
    principal: str | None = None


class ToolInvocationCompleted(Event):
    provider_id: str
    tool_name: str
    call_id: str
    duration_ms: float
    result_size: int
    is_error: bool = False
    group_id: str | None = None


class ToolInvocationFailed(Event):
    provider_id: str
    tool_name: str
    call_id: str
    duration_ms: float
    error: str
    error_type: str
    group_id: str | None = None


# --- maintenance ----------------------------------------------------------------------------


class StreamCompacted(Event):
    stream_id: str
    events_deleted: int
    snapshot_version: int


EVENT_TYPES: tuple[type[Event], ...] = (
    ProviderRegistered,
    ProviderUpdated,
    ProviderDeregistered,
    ProviderStateChanged,
    ProviderStarted,
    ProviderStartFailed,
    ProviderStopped,
    ProviderToolsChanged,
    HealthCheckPassed,
    HealthCheckFailed,
    CircuitBreakerStateChanged,
    ToolInvocationRequested,
    ToolInvocationCompleted,
    ToolInvocationFailed,
    StreamCompacted,
)

# The tagged union every stored event decodes into.
DomainEvent: Any = Union[EVENT_TYPES]  # noqa: UP007 - built from the registry tuple

EVENT_TYPE_NAMES: frozenset[str] = frozenset(t.__name__ for t in EVENT_TYPES)
