"""Every domain event Hangar records, in one registry.

Each event is a frozen msgspec Struct tagged by its class name in the field ``event_type``, so
its JSON encoding is already the flat frame dashboards read (``{"event_type": ..., fields...}``)
and the tagged union ``DomainEvent`` decodes anything ever written. An event type missing from
``EVENT_TYPES`` could not be read back after a restart, silently losing state; the round-trip
test in ``tests/domain`` writes one of each to guard that.
"""

from __future__ import annotations

from typing import Any, Union

__all__ = ["EVENT_TYPES", "DomainEvent", "Event"]

from hangar.domain.event_base import Event
from hangar.domain.provider_spec import ProviderSpec, ToolSpec

# --- provider definition -------------------------------------------------------------------


class ProviderRegistered(Event, frozen=True):
    provider_id: str
    spec: ProviderSpec


class ProviderUpdated(Event, frozen=True):
    provider_id: str
    spec: ProviderSpec
    changed: list[str]


class ProviderDeregistered(Event, frozen=True):
    provider_id: str


# --- provider lifecycle (runtime facts) -----------------------------------------------------


class ProviderStateChanged(Event, frozen=True):
    provider_id: str
    old_state: str
    new_state: str
    reason: str = ""


class ProviderStarted(Event, frozen=True):
    provider_id: str
    startup_duration_ms: float
    tools_count: int
    tools: list[ToolSpec] = []
    server_name: str = ""
    server_version: str = ""


class ProviderStartFailed(Event, frozen=True):
    provider_id: str
    error: str
    attempt: int = 1


class ProviderStopped(Event, frozen=True):
    provider_id: str
    reason: str


class ProviderToolsChanged(Event, frozen=True):
    provider_id: str
    tools: list[ToolSpec]


class HealthCheckPassed(Event, frozen=True):
    provider_id: str
    duration_ms: float


class HealthCheckFailed(Event, frozen=True):
    provider_id: str
    error: str
    consecutive_failures: int


class CircuitBreakerStateChanged(Event, frozen=True):
    provider_id: str
    old_state: str
    new_state: str
    reason: str = ""


# --- tool invocations (stream ``calls:{provider_id}``) --------------------------------------


class ToolInvocationRequested(Event, frozen=True):
    provider_id: str
    tool_name: str
    call_id: str
    arguments_size: int
    group_id: str | None = None
    principal: str | None = None


class ToolInvocationCompleted(Event, frozen=True):
    provider_id: str
    tool_name: str
    call_id: str
    duration_ms: float
    result_size: int
    is_error: bool = False
    group_id: str | None = None


class ToolInvocationFailed(Event, frozen=True):
    provider_id: str
    tool_name: str
    call_id: str
    duration_ms: float
    error: str
    error_type: str
    group_id: str | None = None


# --- maintenance ----------------------------------------------------------------------------


class StreamCompacted(Event, frozen=True):
    stream_id: str
    events_deleted: int
    snapshot_version: int


PROVIDER_EVENTS: tuple[type[Event], ...] = (
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

# Each area keeps its events in its own module; the registry is their union.
from hangar.domain.async_tasks import ASYNC_TASK_EVENTS  # noqa: E402
from hangar.domain.auth_events import AUTH_EVENTS  # noqa: E402
from hangar.domain.catalog_events import CATALOG_EVENTS  # noqa: E402
from hangar.domain.discovery_events import DISCOVERY_EVENTS  # noqa: E402
from hangar.domain.group_events import GROUP_EVENTS  # noqa: E402
from hangar.domain.mcp_events import MCP_EVENTS  # noqa: E402
from hangar.domain.ops_events import OPS_EVENTS  # noqa: E402
from hangar.domain.skill_events import SKILL_EVENTS  # noqa: E402
from hangar.domain.toolhive_events import TOOLHIVE_EVENTS  # noqa: E402

EVENT_TYPES: tuple[type[Event], ...] = (
    PROVIDER_EVENTS + GROUP_EVENTS + DISCOVERY_EVENTS + CATALOG_EVENTS + AUTH_EVENTS + OPS_EVENTS
    + MCP_EVENTS + ASYNC_TASK_EVENTS
    + SKILL_EVENTS + TOOLHIVE_EVENTS
)

# The tagged union every stored event decodes into.
DomainEvent: Any = Union[EVENT_TYPES]  # noqa: UP007 - built from the registry tuple

EVENT_TYPE_NAMES: frozenset[str] = frozenset(t.__name__ for t in EVENT_TYPES)
