"""Runtime facts as commands, and the read-only runtime status view.

The supervisor (``hangar.runtime.supervisor``) owns live providers. It never writes the log
itself: each fact it observes (a start began, a start failed, a health check, a breaker moved,
an idle stop) is sent through the command bus as one of the commands below, so audit, metrics
and correlation/causation ids treat runtime facts exactly like an operator's command.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import msgspec

from hangar.app.bus import CommandBus, CommandContext
from hangar.app.codec import EventMetadata
from hangar.app.ports import CallOutcome, ProviderConnection
from hangar.app.repository import ProviderRepository, SaveResult
from hangar.domain.errors import HangarError
from hangar.domain.events import Event
from hangar.domain.provider import Provider
from hangar.domain.provider_spec import ToolSpec

# --- the facts --------------------------------------------------------------------------------


class ProviderFact(msgspec.Struct, frozen=True, kw_only=True):
    """Something the supervisor saw happen to one provider; its aggregate decides the events."""

    provider_id: str

    def decide(self, p: Provider) -> list[Event]:
        raise NotImplementedError


class BeginProviderStart(ProviderFact, frozen=True, kw_only=True):
    def decide(self, p: Provider) -> list[Event]:
        return p.begin_start()


class RecordProviderStarted(ProviderFact, frozen=True, kw_only=True):
    duration_ms: float
    tools: list[ToolSpec]
    server_name: str = ""
    server_version: str = ""

    def decide(self, p: Provider) -> list[Event]:
        return p.record_started(self.duration_ms, self.tools, self.server_name, self.server_version)


class RecordProviderStartFailed(ProviderFact, frozen=True, kw_only=True):
    error: str
    attempt: int

    def decide(self, p: Provider) -> list[Event]:
        return p.record_start_failed(self.error, self.attempt)


class RecordProviderStopped(ProviderFact, frozen=True, kw_only=True):
    reason: str

    def decide(self, p: Provider) -> list[Event]:
        return p.record_stopped(self.reason)


class RecordProviderCrashed(ProviderFact, frozen=True, kw_only=True):
    reason: str

    def decide(self, p: Provider) -> list[Event]:
        return p.record_crashed(self.reason)


class RecordHealthCheck(ProviderFact, frozen=True, kw_only=True):
    ok: bool
    duration_ms: float = 0.0
    error: str = ""
    degraded_after: int = 1
    dead_after: int = 3

    def decide(self, p: Provider) -> list[Event]:
        return p.record_health(self.ok, duration_ms=self.duration_ms, error=self.error,
                               degraded_after=self.degraded_after, dead_after=self.dead_after)


class RecordBreakerState(ProviderFact, frozen=True, kw_only=True):
    state: str

    def decide(self, p: Provider) -> list[Event]:
        return p.record_breaker(self.state)


class RecordProviderTools(ProviderFact, frozen=True, kw_only=True):
    tools: list[ToolSpec]

    def decide(self, p: Provider) -> list[Event]:
        return p.record_tools(self.tools)


RUNTIME_FACTS: tuple[type[ProviderFact], ...] = (
    BeginProviderStart, RecordProviderStarted, RecordProviderStartFailed, RecordProviderStopped,
    RecordProviderCrashed, RecordHealthCheck, RecordBreakerState, RecordProviderTools,
)


def register_runtime_facts(bus: CommandBus, repo: ProviderRepository) -> None:
    """One handler for every fact: the aggregate decides, the bus stamps the metadata."""

    async def record(cmd: ProviderFact, ctx: CommandContext, meta: EventMetadata) -> SaveResult[Provider]:
        # A fact is never conditional on the caller's If-Match: it already happened.
        return await repo.execute(cmd.provider_id, cmd.decide, meta)

    for fact in RUNTIME_FACTS:
        bus.register(fact, record)


# --- what the rest of the application may know about live providers ----------------------------


class ProviderStatus(msgspec.Struct, frozen=True, kw_only=True):
    """One provider's live state as the supervisor last published it (never persisted)."""

    running: bool
    starting: bool
    inflight: int
    breaker: str
    """``closed``, ``open`` or ``half_open`` (an open breaker whose reset timeout has passed)."""
    restart_attempt: int = 0
    open_tasks: int = 0
    """MCP tasks created through Hangar that it has not seen end; they hold off the idle stop."""


class RuntimeStatus(Protocol):
    """The read-only view: queries and routing read it, nothing through it changes."""

    def status(self, provider_id: str) -> ProviderStatus | None: ...

    def statuses(self) -> Mapping[str, ProviderStatus]: ...


class CallTicket(Protocol):
    """A call admitted by a provider's breaker, on a started connection."""

    async def call(self, tool: str, arguments: dict[str, Any], timeout_s: float) -> CallOutcome: ...

    async def settle(self) -> None:
        """Record a breaker transition the call caused (after the call's own events)."""


class ProviderRuntime(RuntimeStatus, Protocol):
    """What the application asks of the supervisor."""

    async def ensure_started(self, provider_id: str, ctx: CommandContext) -> None: ...

    async def stop(self, provider_id: str, reason: str, ctx: CommandContext) -> bool: ...

    async def open_call(self, provider_id: str, ctx: CommandContext) -> CallTicket: ...

    async def check_health(self, provider_id: str) -> bool: ...

    async def reset_breaker(self, provider_id: str, ctx: CommandContext) -> None: ...

    async def wait_idle(self, provider_id: str, timeout_s: float) -> None: ...

    def task_opened(self, provider_id: str, task_id: str, ttl_ms: object = None) -> None:
        """The provider runs an MCP task Hangar relayed (``task_id`` is the provider's id)."""

    def task_closed(self, provider_id: str, task_id: str) -> None:
        """Hangar saw that task end."""

    async def before_deregister(self, provider_id: str, ctx: CommandContext) -> None: ...

    async def after_update(self, provider_id: str, ctx: CommandContext) -> None: ...

    def spawn_start(self, provider_id: str, on_error: Callable[[HangarError], None]) -> None: ...

    async def connection(self, provider_id: str, ctx: CommandContext = ..., *,
                         start: bool = True) -> ProviderConnection | None:
        """The live connection for requests besides tool calls; ``start=False`` starts nothing."""

