"""The Provider aggregate: its definition and lifecycle state machine.

Methods decide and return the events to record; ``apply`` is the only place state changes,
so loading from history and deciding now can never disagree.
"""

from __future__ import annotations

from enum import StrEnum

import msgspec

from hangar.domain import events as ev
from hangar.domain.errors import (
    AlreadyExistsError,
    InvalidTransitionError,
    ProviderNotFoundError,
)
from hangar.domain.provider_spec import ProviderSpec, ToolSpec


class ProviderState(StrEnum):
    COLD = "cold"
    INITIALIZING = "initializing"
    READY = "ready"
    DEGRADED = "degraded"
    DEAD = "dead"


S = ProviderState

# Allowed lifecycle moves. Beyond the architecture's base table: ``degraded → ready`` (health
# recovered), ``degraded → dead`` (failures passed the dead threshold), ``initializing → cold``
# (stopped while starting) and ``dead → cold`` (an operator stop clears a dead provider).
TRANSITIONS: dict[ProviderState, frozenset[ProviderState]] = {
    S.COLD: frozenset({S.INITIALIZING}),
    S.INITIALIZING: frozenset({S.READY, S.DEGRADED, S.DEAD, S.COLD}),
    S.READY: frozenset({S.COLD, S.DEGRADED, S.DEAD}),
    S.DEGRADED: frozenset({S.INITIALIZING, S.COLD, S.READY, S.DEAD}),
    S.DEAD: frozenset({S.INITIALIZING, S.DEGRADED, S.COLD}),
}

RUNNING_STATES = frozenset({S.INITIALIZING, S.READY, S.DEGRADED})

STREAM_PREFIX = "provider:"


def stream_id(provider_id: str) -> str:
    return STREAM_PREFIX + provider_id


def calls_stream_id(provider_id: str) -> str:
    """Tool invocations live in their own stream: they are facts about traffic, not decisions
    of the aggregate, and keeping them apart means a busy provider's calls never conflict with
    (or slow the loading of) its lifecycle stream."""
    return "calls:" + provider_id


class ProviderSnapshot(msgspec.Struct, kw_only=True):
    provider_id: str = ""
    registered: bool = False
    spec: ProviderSpec | None = None
    state: ProviderState = S.COLD
    tools: list[ToolSpec] = []
    consecutive_failures: int = 0
    last_error: str = ""
    breaker_state: str = "closed"


class Provider:
    """One provider's definition and lifecycle, rebuilt from its stream."""

    def __init__(self, provider_id: str) -> None:
        self.s = ProviderSnapshot(provider_id=provider_id)
        self.version = 0

    # --- reading ---------------------------------------------------------------------------

    @property
    def provider_id(self) -> str:
        return self.s.provider_id

    @property
    def exists(self) -> bool:
        return self.s.registered

    @property
    def state(self) -> ProviderState:
        return self.s.state

    @property
    def spec(self) -> ProviderSpec:
        if self.s.spec is None or not self.s.registered:
            raise ProviderNotFoundError(self.s.provider_id)
        return self.s.spec

    def require(self) -> None:
        if not self.s.registered:
            raise ProviderNotFoundError(self.s.provider_id)

    # --- deciding --------------------------------------------------------------------------

    def register(self, spec: ProviderSpec) -> list[ev.Event]:
        if self.s.registered:
            raise AlreadyExistsError(f"Provider '{self.provider_id}' already exists")
        return [ev.ProviderRegistered(provider_id=self.provider_id, spec=spec)]

    def update(self, spec: ProviderSpec) -> list[ev.Event]:
        old = self.spec
        changed = [f for f in spec.__struct_fields__ if getattr(old, f) != getattr(spec, f)]
        # An unchanged definition records nothing, so re-applying config at start is free.
        if not changed:
            return []
        return [ev.ProviderUpdated(provider_id=self.provider_id, spec=spec, changed=changed)]

    def deregister(self) -> list[ev.Event]:
        self.require()
        out: list[ev.Event] = []
        if self.s.state != S.COLD:
            # The runtime has already been told to stop; the stream must still end cold so a
            # later re-registration starts from a consistent state.
            out += self._move(S.COLD, "deleted")
        out.append(ev.ProviderDeregistered(provider_id=self.provider_id))
        return out

    def begin_start(self) -> list[ev.Event]:
        self.require()
        if self.s.state in (S.INITIALIZING, S.READY):
            return []
        return self._move(S.INITIALIZING, "start")

    def record_started(
        self, duration_ms: float, tools: list[ToolSpec], server_name: str = "", server_version: str = ""
    ) -> list[ev.Event]:
        self.require()
        if self.s.state != S.INITIALIZING:
            raise InvalidTransitionError(
                f"Provider '{self.provider_id}' is {self.s.state}, not initializing"
            )
        return [
            ev.ProviderStarted(
                provider_id=self.provider_id,
                startup_duration_ms=round(duration_ms, 3),
                tools_count=len(tools),
                tools=tools,
                server_name=server_name,
                server_version=server_version,
            ),
            *self._move(S.READY, "started"),
        ]

    def record_start_failed(self, error: str, attempt: int = 1) -> list[ev.Event]:
        self.require()
        out: list[ev.Event] = [
            ev.ProviderStartFailed(provider_id=self.provider_id, error=error, attempt=attempt)
        ]
        if self.s.state != S.DEAD:
            out += self._move(S.DEAD, f"start failed: {error}")
        return out

    def record_stopped(self, reason: str) -> list[ev.Event]:
        self.require()
        if self.s.state == S.COLD:
            return []
        return [
            ev.ProviderStopped(provider_id=self.provider_id, reason=reason),
            *self._move(S.COLD, reason),
        ]

    def record_crashed(self, error: str) -> list[ev.Event]:
        self.require()
        if self.s.state in (S.COLD, S.DEAD):
            return []
        return self._move(S.DEAD, error)

    def record_health(
        self, ok: bool, *, duration_ms: float = 0.0, error: str = "",
        degraded_after: int = 1, dead_after: int = 3,
    ) -> list[ev.Event]:
        self.require()
        if ok:
            out: list[ev.Event] = [
                ev.HealthCheckPassed(provider_id=self.provider_id, duration_ms=round(duration_ms, 3))
            ]
            if self.s.state == S.DEGRADED:
                out += self._move(S.READY, "health recovered")
            return out
        failures = self.s.consecutive_failures + 1
        out = [
            ev.HealthCheckFailed(
                provider_id=self.provider_id, error=error, consecutive_failures=failures
            )
        ]
        # One slow or failed check is not a verdict: degrade only after ``degraded_after``
        # consecutive failures, and declare dead only after ``dead_after``.
        if failures >= dead_after and self.s.state in (S.READY, S.DEGRADED):
            out += self._move(S.DEAD, f"{failures} consecutive health check failures")
        elif failures >= degraded_after and self.s.state == S.READY:
            out += self._move(S.DEGRADED, f"health check failed: {error}")
        return out

    def record_breaker(self, new_state: str, reason: str = "") -> list[ev.Event]:
        self.require()
        if new_state == self.s.breaker_state:
            return []
        return [
            ev.CircuitBreakerStateChanged(
                provider_id=self.provider_id,
                old_state=self.s.breaker_state,
                new_state=new_state,
                reason=reason,
            )
        ]

    def record_tools(self, tools: list[ToolSpec]) -> list[ev.Event]:
        self.require()
        if tools == self.s.tools:
            return []
        return [ev.ProviderToolsChanged(provider_id=self.provider_id, tools=tools)]

    def _move(self, new: ProviderState, reason: str) -> list[ev.Event]:
        # Every state change goes through here, so no state is ever set without its event.
        old = self.s.state
        if new not in TRANSITIONS[old]:
            raise InvalidTransitionError(
                f"Provider '{self.provider_id}' cannot go from {old} to {new}"
            )
        return [
            ev.ProviderStateChanged(
                provider_id=self.provider_id, old_state=old, new_state=new, reason=reason
            )
        ]

    # --- evolving --------------------------------------------------------------------------

    def apply(self, e: ev.Event) -> None:
        s = self.s
        match e:
            case ev.ProviderRegistered(spec=spec):
                self.s = ProviderSnapshot(provider_id=s.provider_id, registered=True, spec=spec)
            case ev.ProviderUpdated(spec=spec):
                s.spec = spec
            case ev.ProviderDeregistered():
                self.s = ProviderSnapshot(provider_id=s.provider_id)
            case ev.ProviderStateChanged(new_state=new):
                s.state = ProviderState(new)
                if new in (S.INITIALIZING, S.COLD):
                    s.consecutive_failures = 0
            case ev.ProviderStarted(tools=tools):
                s.tools = list(tools)
                s.last_error = ""
            case ev.ProviderToolsChanged(tools=tools):
                s.tools = list(tools)
            case ev.ProviderStartFailed(error=error):
                s.last_error = error
            case ev.HealthCheckPassed():
                s.consecutive_failures = 0
            case ev.HealthCheckFailed(consecutive_failures=n, error=error):
                s.consecutive_failures = n
                s.last_error = error
            case ev.CircuitBreakerStateChanged(new_state=new):
                s.breaker_state = new
            case _:
                pass

    # --- snapshots -------------------------------------------------------------------------

    def snapshot(self) -> bytes:
        return msgspec.json.encode(self.s)

    @classmethod
    def from_snapshot(cls, provider_id: str, version: int, state: bytes) -> Provider:
        p = cls(provider_id)
        p.s = msgspec.json.decode(state, type=ProviderSnapshot)
        p.version = version
        return p
